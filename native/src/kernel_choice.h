// Which kernels a session records, and with which settings. Three sources, each overriding the one before:
// the device's defaults (measured on the H200 and on lavapipe), a tuning measured on this device
// (runtime/tuning.ts, handed in by the host), and PARLEY_* environment variables (experiments and the bench).
#pragma once
#include <cstdint>

#include "vk_context.h"
#include "model_weights.h"

// Kernel set: Gpu = fused matrix-vector decode and GEMM prefill; Cpu = one SIMD lane per row for both; Auto =
// by device type: GPUs take Gpu, CPU drivers (lavapipe) the fused decode (4 rows per subgroup, x staged in
// shared memory: 3x faster there) and a prefill through the matrix-vector kernels over 8-token tiles
// (one lane per row for models narrower than 256).
enum class KernelSet { Auto = 0, Gpu = 1, Cpu = 2 };

enum class PrefillKernel { Gemm = 0, Tiled16 = 1, Matvec = 2, Lane = 3, Coopmat = 4 };

// A measured tuning as the host hands it over; a negative field keeps the device's default.
struct KernelTuning {
  int rows = -1;   // decode: rows each subgroup computes: 1, 2, 4 or 8
  int stage = -1;  // decode, 0/1: f(x) staged in shared memory once per workgroup
  int wide = -1;   // decode, 0/1: 16-byte weight loads per lane
  int dot8 = -1;   // decode, 0/1: Q4_0/Q8_0 through the 4×8-bit integer dot product (devices that have it)
  int prefillKernel = -1;  // prefill (kernel set Auto only): a PrefillKernel
  int prefillDot8 = -1;    // prefill, 0/1: the GEMM's Q4_0/Q8_0 products through the integer dot product
};

struct KernelChoice {
  // Decode through the fused matrix-vector kernels (else one lane per row), and their settings.
  bool matvecDecode = true;
  uint32_t matvecRows = 1;   // rows each subgroup of a decode matrix-vector kernel computes
  bool matvecStage = false;  // stage f(x) in shared memory
  bool matvecWide = false;   // lanes load 16 bytes of quants at a time
  bool matvecDot8 = false;   // Q4_0/Q8_0 products through the integer dot product
  // Decode's LM head product also finds the greedy token (matvec.comp's ARGMAX) instead of an argmax dispatch.
  bool fusedArgmax = true;
  // Decode: a stacked gate/up product writes silu(gate)·up itself (matvec.comp's PAIRS), so the down product
  // reads one vector instead of computing SwiGLU once per row it owns.
  bool swigluPairs = true;
  // Prefill: the GPU-shaped kernels (the GEMM, or 16-token tiles with maxTpr threads per row), or the
  // matrix-vector kernels over token tiles (prefillTokens tokens × prefillRows rows per subgroup), or one
  // lane per row (neither).
  bool gpuPrefill = true;
  bool prefillGemm = true;
  bool prefillDot8 = false;  // the GEMM's Q4_0/Q8_0 products through the integer dot product
  bool prefillCoopmat = false;   // the GEMM's tiles through cooperative matrices (matmul_coopmat.comp)
  bool coopmatEmulated = false;  // ... computed by plain arithmetic (PARLEY_COOPMAT_EMULATE=1: tests, comparisons)
  bool prefillMatvec = false;
  uint32_t prefillTokens = 8, prefillRows = 8;
  uint32_t maxTpr = 4;
  // Prompt steps' attention: 64 query rows per workgroup over key chunks staged once (attention_prefill.comp),
  // where the head size is a multiple of 8 up to 256 and subgroups shuffle and are at least 4 wide; else one
  // workgroup per query head and token (attention.comp).
  bool prefillFlashAttention = true;
  // Steps of at most kShortPrefill tokens replay a recording through the matrix-vector kernels over token tiles.
  bool shortPrefill = false;
  static constexpr uint32_t kShortPrefill = 16;

  PrefillKernel prefillKernel() const {
    return prefillMatvec ? PrefillKernel::Matvec
           : !gpuPrefill ? PrefillKernel::Lane
           : prefillCoopmat ? PrefillKernel::Coopmat
           : prefillGemm ? PrefillKernel::Gemm
                         : PrefillKernel::Tiled16;
  }
};

// Resolves the three sources for one session (`ubatch`: its prefill micro-batch). Throws NativeError
// (INVALID_ARGUMENT) for a bad setting, before the session creates any Vulkan object.
KernelChoice chooseKernels(const DeviceInfo& device, const LlamaHParams& hp, KernelSet kernels, const KernelTuning& tuning, uint32_t ubatch);

// An integer in lo..hi from the environment variable `name`, or `fallback` when unset (a typed error otherwise).
uint32_t envUint(const char* name, uint32_t lo, uint32_t hi, uint32_t fallback);
// A 0/1 switch from the environment, or `fallback` when unset.
bool envSwitch(const char* name, bool fallback);
