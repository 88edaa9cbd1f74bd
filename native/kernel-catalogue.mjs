// Every compute kernel the runtime dispatches, in one list. native/build.mjs compiles each kernel's SPIR-V
// variants from it (one per weight format for the kernels that read weights) and generates
// native/generated/kernel_catalogue.h, from which the C++ side names kernels (`KernelId`, `KernelKey` in
// native/src/kernel_key.h) and builds their pipelines: the descriptor set layout from `bindings`, the
// specialization constants from `spec`. build.mjs checks both against each variant's SPIR-V.
//
// A kernel:
//   id        the C++ enumerator (KernelId::<id>)
//   name      the variant name's stem: `name` alone, or `name_<format>` per weight format (matvec_q4_0)
//   source    the shader, native/shaders/<source>.comp
//   defines   preprocessor symbols set for every variant (each per-format variant also gets WTYPE_<format>)
//   formats   the weight formats it is compiled for (absent: one variant that reads no weights)
//   bindings  storage buffers after binding 0 (the step parameters' uniform buffer)
//   spec      specialization constants in constant_id order: [name, default] (defaults as in the shader)

// GGUF tensor types the kernels read, with their ggml type ids (GgmlType in native/src/model_weights.h).
export const WEIGHT_FORMATS = { F32: 0, F16: 1, BF16: 30, Q8_0: 8, Q4_0: 2, Q4_K: 12, Q5_K: 13, Q6_K: 14 };
const ALL = Object.keys(WEIGHT_FORMATS);
// The 4×8-bit integer dot product kernels read blocks of 32 bytes or nibbles with one f16 scale.
const DOT8 = ["Q4_0", "Q8_0"];

// matvec.comp: rows per subgroup, f(x) staged in shared memory, tokens per workgroup (> 1: prompt steps over
// token tiles), quant words per lane load (1 or 4), SwiGLU pairs (gate and up stacked; writes silu(gate)·up).
const MATVEC_SPEC = [
  ["ROWS", 1],
  ["XSTAGE", 0],
  ["TOKENS", 1],
  ["WIDE", 1],
  ["PAIRS", 0],
];

export const KERNELS = [
  // Token embeddings: x = token_embd[tokens], dequantized.
  { id: "Embed", name: "embed", source: "embed", formats: ALL, bindings: 3 },

  // Decode on GPUs: subgroup-per-row matrix-vector products with the RMSNorm or SwiGLU fused in front.
  { id: "Matvec", name: "matvec", source: "matvec", formats: ALL, bindings: 4, spec: MATVEC_SPEC },
  // ... with f(x) rounded to bytes per 32-element block and the integer dot product, where the device has it.
  { id: "MatvecDot8", name: "matvec_dot8", source: "matvec", defines: ["DOT8"], formats: DOT8, bindings: 4, spec: MATVEC_SPEC },
  // ... for decode's LM head, with the greedy argmax folded in (binds its candidates and the result).
  { id: "MatvecArgmax", name: "matvec_argmax", source: "matvec", defines: ["ARGMAX"], formats: ALL, bindings: 6, spec: MATVEC_SPEC },
  { id: "MatvecDot8Argmax", name: "matvec_dot8_argmax", source: "matvec", defines: ["DOT8", "ARGMAX"], formats: DOT8, bindings: 6, spec: MATVEC_SPEC },

  // One SIMD lane per row (the "cpu" kernel set, and narrow models' prompt steps on CPU drivers).
  { id: "Matmul", name: "matmul", source: "matmul", formats: ALL, bindings: 3 },
  // ... with a token tile of 1: decode in the "cpu" kernel set.
  { id: "Matmul1", name: "matmul1", source: "matmul", defines: ["SINGLE_TOKEN"], formats: ALL, bindings: 3 },
  // Prompt steps on GPUs through 16-token tiles (PARLEY_PREFILL=tiled16, tuning's "tiled16").
  { id: "Matmul16", name: "matmul16", source: "matmul", defines: ["WIDE_TILE"], formats: ALL, bindings: 3 },
  // Prompt steps on GPUs: the shared-memory tiled GEMM (64 rows × 64 tokens).
  { id: "MatmulTiled", name: "matmul_tiled", source: "matmul_tiled", formats: ALL, bindings: 3 },
  // ... with the weights staged as bytes and x rounded to bytes per 32-element slice (integer dot product).
  { id: "MatmulTiledDot8", name: "matmul_tiled_dot8", source: "matmul_tiled", defines: ["DOT8"], formats: DOT8, bindings: 3 },
  // ... through cooperative matrices (VK_NV_cooperative_matrix), and the same tiling with those three
  // operations done by plain arithmetic, which every device runs (tests; checking the real one on a GPU).
  { id: "MatmulCoopmat", name: "matmul_coopmat", source: "matmul_coopmat", formats: ALL, bindings: 3 },
  { id: "MatmulCoopmatEmu", name: "matmul_coopmat_emu", source: "matmul_coopmat", defines: ["EMULATED"], formats: ALL, bindings: 3 },

  // Prompt steps (and decode in the "cpu" set): RMSNorm into xn, RoPE with the KV-cache store, attention, SwiGLU.
  { id: "Rmsnorm", name: "rmsnorm", source: "rmsnorm", bindings: 3 },
  { id: "RopeKv", name: "rope_kv", source: "rope_kv", bindings: 6 },
  // One workgroup per query head and token (PARLEY_PREFILL_ATTENTION=0, and heads the kernel below cannot take).
  { id: "Attention", name: "attention", source: "attention", bindings: 4 },
  // 64 (token, head) query rows of one KV head per workgroup over key chunks staged once; HD: the head size.
  { id: "AttentionPrefill", name: "attention_prefill", source: "attention_prefill", bindings: 4, spec: [["HD", 64]] },
  { id: "SiluMul", name: "silu_mul", source: "silu_mul", bindings: 2 },
  // Decode on GPUs: split-K attention with RoPE and the KV-cache store folded in.
  { id: "AttentionDecode", name: "attention_decode", source: "attention_decode", bindings: 9 },

  // The greedy token as a dispatch of its own (CPU drivers, and the prompt steps).
  { id: "Argmax", name: "argmax", source: "argmax", bindings: 2 },
  // The sampler's 64 most likely tokens.
  { id: "Topk", name: "topk", source: "topk", bindings: 3 },
  // The GPU loop's advance between two decode steps: greedy (the argmax becomes the next token), or sampled
  // (penalties, top 64, the draw); both embed the next token, so they are compiled per embedding format.
  { id: "DecodeAdvance", name: "decode_advance", source: "decode_advance", formats: ALL, bindings: 5 },
  { id: "TopkSample", name: "topk_sample", source: "topk", defines: ["SAMPLE"], formats: ALL, bindings: 9 },
];
