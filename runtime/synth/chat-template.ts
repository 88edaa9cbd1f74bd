// TinyLlama-1.1B-Chat-v1.0's chat template, exactly as its tokenizer_config.json defines it (a Zephyr-style
// template). HF renders it with trim_blocks and lstrip_blocks, so the newlines between tags vanish.

export const TINYLLAMA_CHAT_TEMPLATE =
  "{% for message in messages %}\n" +
  "{% if message['role'] == 'user' %}\n" +
  "{{ '<|user|>\n' + message['content'] + eos_token }}\n" +
  "{% elif message['role'] == 'system' %}\n" +
  "{{ '<|system|>\n' + message['content'] + eos_token }}\n" +
  "{% elif message['role'] == 'assistant' %}\n" +
  "{{ '<|assistant|>\n'  + message['content'] + eos_token }}\n" +
  "{% endif %}\n" +
  "{% if loop.last and add_generation_prompt %}\n" +
  "{{ '<|assistant|>' }}\n" +
  "{% endif %}\n" +
  "{% endfor %}";
