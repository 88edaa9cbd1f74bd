// Chat prompts from a GGUF's tokenizer.chat_template (Jinja), rendered with @huggingface/jinja the way HF
// transformers' apply_chat_template does (trim_blocks + lstrip_blocks; bos_token, eos_token,
// add_generation_prompt and raise_exception available to the template). Without a template, TinyLlama-Chat's.
//
// Structure vs content. The rendered prompt mixes the template's own structure (`<|user|>\n`, the `</s>` that
// ends a turn, a leading `<s>`) with message contents typed by players. The structure must be tokenized with
// special-token parsing (so `</s>` becomes EOS), the contents without it (a player typing `</s>` or
// `<|system|>` must not end a turn or fake a system message). renderChatSegments() therefore returns the
// prompt as segments marked `special: true` (structure) or `false` (content):
//   1. render the template with the real contents: the authoritative text;
//   2. render it again with each content replaced by a unique sentinel (private-use characters plus a nonce
//      absent from every input) and split that rendering at the sentinels: the structure pieces in between;
//   3. put the contents back between the structure pieces and check that this rebuilds exactly the text of
//      step 1 (contents as given; else contents trimmed, for templates that `| trim` them; else contents
//      recovered as the text between consecutive structure pieces). If nothing matches, the template does
//      something to contents that cannot be separated safely, and that is an InvalidArgumentError.
// tokenizeChat() (runtime/tokenizer/chat-tokens.ts) then encodes the segments as one text in which only the
// structure segments can produce special tokens.

import { Template } from "@huggingface/jinja";
import { InvalidArgumentError, ParleyError } from "./errors.js";
import { TINYLLAMA_CHAT_TEMPLATE } from "./synth/chat-template.js";

export type ChatRole = "system" | "user" | "assistant";

export interface ChatMessage {
  role: ChatRole;
  content: string;
}

export interface ChatTemplateOptions {
  /** The GGUF's tokenizer.chat_template. Absent: TinyLlama-Chat's template. */
  template?: string;
  /** Text of the BOS token for the template's `bos_token`. Default `<s>`. */
  bosToken?: string;
  /** Text of the EOS token for the template's `eos_token`. Default `</s>`. */
  eosToken?: string;
  /** End with the header of an assistant turn, for the model to complete. Default true. */
  addGenerationPrompt?: boolean;
}

/** A piece of a rendered prompt: template structure (`special: true`) or message content (`false`). */
export interface ChatSegment {
  text: string;
  special: boolean;
}

/**
 * TinyLlama-1.1B-Chat-v1.0's template. Renders each message as `<|role|>\n{content}</s>\n` and, with the
 * generation prompt, ends with `<|assistant|>\n`.
 */
export const DEFAULT_CHAT_TEMPLATE: string = TINYLLAMA_CHAT_TEMPLATE;

const ROLES: ReadonlySet<string> = new Set(["system", "user", "assistant"]);
const templateCache = new Map<string, Template>();

function compile(source: string): Template {
  let template = templateCache.get(source);
  if (template) return template;
  try {
    template = new Template(source);
  } catch (error) {
    throw new InvalidArgumentError(`the chat template is not valid Jinja: ${messageOf(error)}`);
  }
  if (templateCache.size >= 16) templateCache.delete(templateCache.keys().next().value as string);
  templateCache.set(source, template);
  return template;
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

function validate(messages: readonly ChatMessage[]): void {
  if (!Array.isArray(messages)) throw new InvalidArgumentError("chat messages must be an array");
  messages.forEach((m, i) => {
    if (m === null || typeof m !== "object") throw new InvalidArgumentError(`chat message ${i} is not an object`);
    if (!ROLES.has(m.role)) {
      throw new InvalidArgumentError(`chat message ${i} has role ${JSON.stringify(m.role)}; expected "system", "user" or "assistant"`);
    }
    if (typeof m.content !== "string") throw new InvalidArgumentError(`chat message ${i} content must be a string`);
  });
}

function renderWith(template: Template, messages: readonly ChatMessage[], options: ChatTemplateOptions): string {
  try {
    const text = template.render({
      messages: messages.map((m) => ({ role: m.role, content: m.content })),
      bos_token: options.bosToken ?? "<s>",
      eos_token: options.eosToken ?? "</s>",
      add_generation_prompt: options.addGenerationPrompt ?? true,
    });
    if (typeof text !== "string") throw new Error("the template did not produce text");
    return text;
  } catch (error) {
    if (error instanceof ParleyError) throw error;
    throw new InvalidArgumentError(`the chat template failed to render this conversation: ${messageOf(error)}`);
  }
}

/** Renders the conversation to the prompt text. */
export function renderChat(messages: readonly ChatMessage[], options: ChatTemplateOptions = {}): string {
  validate(messages);
  return renderWith(compile(options.template ?? DEFAULT_CHAT_TEMPLATE), messages, options);
}

/** Renders the conversation as structure/content segments whose texts concatenate to renderChat()'s. */
export function renderChatSegments(messages: readonly ChatMessage[], options: ChatTemplateOptions = {}): ChatSegment[] {
  validate(messages);
  const source = options.template ?? DEFAULT_CHAT_TEMPLATE;
  const template = compile(source);
  const real = renderWith(template, messages, options);

  // A sentinel no input contains, so every occurrence in the rendering comes from a substitution.
  const inputs = [source, options.bosToken ?? "", options.eosToken ?? "", ...messages.map((m) => m.content)];
  let nonce = 0;
  const prefix = (): string => `\uE000PARLEY${nonce}\uE001`;
  while (inputs.some((s) => s.includes(prefix()))) nonce++;
  const marker = prefix();
  const sentinelMessages = messages.map((m, i) => ({ role: m.role, content: `${marker}${i}\uE002` }));
  const marked = renderWith(template, sentinelMessages, options);

  // Split into structure pieces and the index of the message content between them.
  const structure: string[] = [];
  const contentIndex: number[] = [];
  const pattern = new RegExp(`${marker}(\\d+)\\uE002`, "g");
  let last = 0;
  for (const match of marked.matchAll(pattern)) {
    structure.push(marked.slice(last, match.index));
    contentIndex.push(Number(match[1]));
    last = match.index! + match[0].length;
  }
  structure.push(marked.slice(last));

  const attempt = (contents: string[]): ChatSegment[] | undefined => {
    const segments: ChatSegment[] = [];
    const push = (text: string, special: boolean): void => {
      if (text === "") return;
      const prev = segments[segments.length - 1];
      if (prev && prev.special === special) prev.text += text;
      else segments.push({ text, special });
    };
    for (let k = 0; k < contents.length; k++) {
      push(structure[k], true);
      push(contents[k], false);
    }
    push(structure[structure.length - 1], true);
    return segments.map((s) => s.text).join("") === real ? segments : undefined;
  };

  const asGiven = attempt(contentIndex.map((i) => messages[i].content));
  if (asGiven) return asGiven;
  const trimmed = attempt(contentIndex.map((i) => messages[i].content.trim()));
  if (trimmed) return trimmed;

  // Recover each content as the text between consecutive structure pieces.
  if (real.startsWith(structure[0])) {
    const recovered: string[] = [];
    let pos = structure[0].length;
    let ok = true;
    for (let k = 1; k < structure.length && ok; k++) {
      const isLast = k === structure.length - 1;
      const at = isLast ? real.length - structure[k].length : real.indexOf(structure[k], pos);
      if (at < pos || (isLast && !real.endsWith(structure[k]))) ok = false;
      else {
        recovered.push(real.slice(pos, at));
        pos = at + structure[k].length;
      }
    }
    const segments = ok ? attempt(recovered) : undefined;
    if (segments) return segments;
  }
  throw new InvalidArgumentError(
    "the chat template transforms message contents in a way that cannot be told apart from its own structure, " +
      "so player text cannot be kept from becoming special tokens; use a template that inserts message['content'] as is",
  );
}
