{
  "targets": [
    {
      "target_name": "parley",
      "sources": [
        "src/addon.cpp",
        "src/vk_context.cpp",
        "src/buffer.cpp",
        "src/kernel.cpp",
        "src/kernel_key.cpp",
        "src/pipeline_cache.cpp",
        "src/model_weights.cpp",
        "src/kernel_choice.cpp",
        "src/session_buffers.cpp",
        "src/recorder.cpp",
        "src/profile.cpp",
        "src/llama_ops.cpp",
        "src/forward_pass.cpp",
        "src/session.cpp"
      ],
      "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")", "generated", "src"],
      "defines": ["NAPI_CPP_EXCEPTIONS", "NAPI_VERSION=8"],
      "cflags!": ["-fno-exceptions"],
      "cflags_cc!": ["-fno-exceptions", "-fno-rtti"],
      "cflags_cc": ["-std=c++17", "-O2", "-pthread", "-Wall", "-Wextra", "-Wno-unused-parameter", "-Wno-missing-field-initializers"],
      "ldflags": ["-pthread"],
      "libraries": ["-lvulkan"]
    }
  ]
}
