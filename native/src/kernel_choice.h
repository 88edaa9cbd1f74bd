// Which kernels a session records, and with which settings. Three sources, each overriding the one before:
// the device's defaults (measured on the H200 and on lavapipe), a tuning measured on this device
// (runtime/tuning/, handed in by the host), and overrides for experiments and the bench (the PARLEY_*
// environment variables, which addon.cpp reads).
#pragma once
#include <cstdint>
#include <optional>

#include "vk_context.h"
#include "model_weights.h"

// Kernel set: Gpu = fused matrix-vector decode and GEMM prefill; Cpu = one SIMD lane per row for both; Auto =
// by device type: GPUs take Gpu, CPU drivers (lavapipe) the fused decode (4 rows per subgroup, x staged in
// shared memory: 3x faster there) and a prefill through the matrix-vector kernels over 8-token tiles
// (one lane per row for models narrower than 256).
enum class KernelSet { Auto = 0, Gpu = 1, Cpu = 2 };

// How a prompt step computes its matrix products.
enum class PrefillKernel {
  Gemm = 0,     // GPUs: the shared-memory tiled GEMM, 64 rows × 64 tokens (matmul_tiled.comp)
  Tiled16 = 1,  // GPUs: 16-token tiles (matmul.comp's WIDE_TILE)
  Matvec = 2,   // the matrix-vector kernels over token tiles (matvec.comp's TOKENS > 1): CPU drivers
  Lane = 3,     // one SIMD lane per row (matmul.comp): the "cpu" kernel set, narrow models on CPU drivers
  Coopmat = 4,  // GPUs: the GEMM's tiles through cooperative matrices (matmul_coopmat.comp)
};
// The kernels shaped for GPUs (workgroups sharing weights across rows and tokens), which PARLEY_PREFILL
// chooses among.
inline bool gpuShaped(PrefillKernel k) {
  return k == PrefillKernel::Gemm || k == PrefillKernel::Tiled16 || k == PrefillKernel::Coopmat;
}

// How a decode step computes its matrix products.
enum class DecodeKernel {
  Matvec,  // subgroup-per-row matrix-vector kernels with the RMSNorm / SwiGLU fused in (matvec.comp)
  Lane,    // one SIMD lane per row (matmul.comp's SINGLE_TOKEN), separate norm and SwiGLU passes
};

// How a prompt step computes attention.
enum class PrefillAttention {
  // 64 query rows per workgroup over key chunks staged once (attention_prefill.comp), where the head size is a
  // multiple of 8 up to 256 and subgroups shuffle and are at least 4 wide.
  QueryTiles,
  PerHead,  // one workgroup per query head and token (attention.comp)
};

// A measured tuning as the host hands it over; a negative field keeps the device's default.
struct KernelTuning {
  int rows = -1;           // decode: rows each subgroup computes: 1, 2, 4 or 8
  int stage = -1;          // decode, 0/1: f(x) staged in shared memory once per workgroup
  int wide = -1;           // decode, 0/1: 16-byte weight loads per lane
  int dot8 = -1;           // decode, 0/1: Q4_0/Q8_0 through the 4×8-bit integer dot product (devices that have it)
  int prefillKernel = -1;  // prefill (kernel set Auto only): a PrefillKernel
  int prefillDot8 = -1;    // prefill, 0/1: the GEMM's Q4_0/Q8_0 products through the integer dot product
};

// Settings forced for experiments and the bench's sweeps; an empty field keeps what the defaults and the
// tuning chose. Each names the environment variable that sets it (docs/ARCHITECTURE.md lists them).
struct KernelOverrides {
  std::optional<bool> matvecStage;     // PARLEY_MATVEC_STAGE
  std::optional<uint32_t> matvecRows;  // PARLEY_MATVEC_ROWS, 1..8
  std::optional<bool> matvecWide;      // PARLEY_MATVEC_WIDE
  std::optional<bool> matvecDot8;      // PARLEY_MATVEC_DOT8
  std::optional<bool> fusedArgmax;     // PARLEY_FUSED_ARGMAX
  std::optional<bool> swigluPairs;     // PARLEY_SWIGLU_PAIRS
  // PARLEY_PREFILL: Matvec applies to any kernel set; the GPU-shaped kernels (Gemm, Tiled16, Coopmat) replace
  // only a GPU-shaped choice, elsewhere the prefill stays one lane per row.
  std::optional<PrefillKernel> prefill;
  bool coopmatEmulated = false;            // PARLEY_COOPMAT_EMULATE
  std::optional<bool> prefillDot8;         // PARLEY_PREFILL_DOT8
  std::optional<uint32_t> prefillTokens;   // PARLEY_PREFILL_TOKENS, 2..16
  std::optional<uint32_t> prefillRows;     // PARLEY_PREFILL_ROWS, 1..8
  std::optional<uint32_t> maxTpr;          // PARLEY_TPR, 1..64
  std::optional<uint32_t> attnChunk;       // PARLEY_ATTN_CHUNK, 1..256
  std::optional<uint32_t> attnHeadsPerWg;  // PARLEY_ATTN_HEADS, 1..8 (a divisor of the GQA group)
  std::optional<uint32_t> topkGroups;      // PARLEY_TOPK_GROUPS, 1..64
  bool prefillQueryTiles = true;           // PARLEY_PREFILL_ATTENTION=0: PrefillAttention::PerHead everywhere
  bool shortPrefill = true;                // PARLEY_SHORT_PREFILL=0: no short prompt step recording
};

struct KernelChoice {
  DecodeKernel decode = DecodeKernel::Matvec;
  // The decode matrix-vector kernels' settings (their specialization constants).
  uint32_t matvecRows = 1;   // rows each subgroup computes
  bool matvecStage = false;  // stage f(x) in shared memory
  bool matvecWide = false;   // lanes load 16 bytes of quants at a time
  bool matvecDot8 = false;   // Q4_0/Q8_0 products through the integer dot product
  // Decode's LM head product also finds the greedy token (matvec.comp's ARGMAX) instead of an argmax dispatch.
  bool fusedArgmax = true;
  // Decode: a stacked gate/up product writes silu(gate)·up itself (matvec.comp's PAIRS), so the down product
  // reads one vector instead of computing SwiGLU once per row it owns.
  bool swigluPairs = true;

  PrefillKernel prefill = PrefillKernel::Gemm;
  bool prefillDot8 = false;                     // Gemm: Q4_0/Q8_0 products through the integer dot product
  bool coopmatEmulated = false;                 // Coopmat: computed by plain arithmetic (PARLEY_COOPMAT_EMULATE=1: tests, comparisons)
  uint32_t prefillTokens = 8, prefillRows = 8;  // Matvec: tokens × rows per subgroup
  uint32_t maxTpr = 4;                          // Tiled16 and Lane: at most this many threads per row
  PrefillAttention prefillAttention = PrefillAttention::QueryTiles;
  // Decode attention (attention_decode.comp): keys per chunk (one workgroup each), query heads per workgroup
  // (a divisor of the query heads sharing a KV head, at most 8).
  uint32_t attnChunk = 64, attnHeadsPerWg = 1;
  // The topk kernel's workgroups: slices of the logits row, each selecting its top 64.
  uint32_t topkGroups = 1;
  // Steps of at most kShortPrefill tokens replay a recording through the matrix-vector kernels over token tiles.
  bool shortPrefill = false;
  static constexpr uint32_t kShortPrefill = 16;
};

// Resolves the three sources for one session (`ubatch`: its prefill micro-batch). Throws NativeError
// (INVALID_ARGUMENT) for a bad setting, before the session creates any Vulkan object.
KernelChoice chooseKernels(const DeviceInfo& device, const LlamaHParams& hp, KernelSet kernels, const KernelTuning& tuning,
                           const KernelOverrides& overrides, uint32_t ubatch);
