#include "kernel_choice.h"

#include <cstdlib>
#include <string>

#include "vk_check.h"

uint32_t envUint(const char* name, uint32_t lo, uint32_t hi, uint32_t fallback) {
  const char* env = std::getenv(name);
  if (!env) return fallback;
  char* end = nullptr;
  const long v = std::strtol(env, &end, 10);
  if (end == env || *end != '\0' || v < long(lo) || v > long(hi))
    throw NativeError("INVALID_ARGUMENT", std::string(name) + " must be an integer in " + std::to_string(lo) + ".." +
                                              std::to_string(hi) + ", got '" + env + "'");
  return uint32_t(v);
}

bool envSwitch(const char* name, bool fallback) {
  const char* env = std::getenv(name);
  if (!env) return fallback;
  const std::string v(env);
  if (v != "0" && v != "1") throw NativeError("INVALID_ARGUMENT", std::string(name) + " must be 0 or 1, got '" + v + "'");
  return v == "1";
}

namespace {

// 1. The device's defaults. Measured on lavapipe (2 cores, TinyLlama Q4_0 decode): the one-lane-per-row set took
// 2068 ms/token, the fused matrix-vector kernels with 4 rows per subgroup and x staged 685 ms (2026-11-28, with
// SwiGLU in the gate/up product: 8 rows 478-497 ms against 4 rows 551-658, two runs each; `tiny` 10.9-11.8 ms
// against 13.2-13.5, `small` 19.7-19.9 against 20.5-21.3, three runs each); the GEMM
// prefill is slower there than one lane per row (small Q4_0, 128 tokens: 1.45 s vs 0.97 s), the
// matrix-vector kernels over token tiles faster (below). GPUs keep the settings measured on the H200 until
// a GPU run's sweeps say otherwise (and a tuning replaces them per device).
void deviceDefaults(KernelChoice& k, const DeviceInfo& device, const LlamaHParams& hp, KernelSet kernels) {
  const bool cpuDevice = device.type == "cpu";
  k.matvecDecode = kernels != KernelSet::Cpu;
  k.gpuPrefill = kernels == KernelSet::Gpu || (kernels == KernelSet::Auto && !cpuDevice);
  if (kernels == KernelSet::Auto && cpuDevice) {
    k.matvecRows = 8;
    k.matvecStage = true;
    // The fused argmax's workgroup barriers and atomics cost lavapipe more than the dispatch it saves (`small`
    // Q4_0, per-kernel profile: LM head with it 8.1-11.5 ms, without it 7.1-8.2 ms plus 0.15-0.2 ms of argmax).
    k.fusedArgmax = false;
    // Prefill through the matrix-vector kernels, 8 rows × 8 tokens per subgroup: TinyLlama Q4_0, 16 tokens,
    // 7.0 s against 24.5 s one lane per row (2026-11-28, x loaded 4 floats at a time: 4.8-5.0 s; 8 × 16 the same,
    // 4 × 8 6.8 s, 1 × 8 16 s); `small` (dim 256), 128 tokens, 0.39 s against 1.3 s. Below dim
    // 256 dispatch overhead dominates and one lane per row stays ahead (`tiny`, 128 tokens: 165 vs 204 ms).
    k.prefillMatvec = hp.nEmbd >= 256;
  }
}

// 2. A measured tuning for this device and model; its prefill part only where the kernel set is left to the
// runtime (an explicit "gpu" or "cpu" set stays what it says).
void applyTuning(KernelChoice& k, const KernelTuning& tuning, KernelSet kernels) {
  if (tuning.prefillKernel >= 0 && kernels == KernelSet::Auto) {
    if (tuning.prefillKernel > int(PrefillKernel::Coopmat))
      throw NativeError("INVALID_ARGUMENT", "tuning: unknown prefill kernel " + std::to_string(tuning.prefillKernel));
    const auto choice = PrefillKernel(tuning.prefillKernel);
    k.gpuPrefill = choice == PrefillKernel::Gemm || choice == PrefillKernel::Tiled16 || choice == PrefillKernel::Coopmat;
    k.prefillGemm = choice == PrefillKernel::Gemm;
    k.prefillCoopmat = choice == PrefillKernel::Coopmat;
    k.prefillMatvec = choice == PrefillKernel::Matvec;
  }
  if (tuning.prefillDot8 >= 0 && kernels == KernelSet::Auto) k.prefillDot8 = tuning.prefillDot8 != 0;
  if (tuning.rows >= 0) {
    if (tuning.rows != 1 && tuning.rows != 2 && tuning.rows != 4 && tuning.rows != 8)
      throw NativeError("INVALID_ARGUMENT", "tuning: rows per subgroup must be 1, 2, 4 or 8, got " + std::to_string(tuning.rows));
    k.matvecRows = uint32_t(tuning.rows);
  }
  if (tuning.stage >= 0) k.matvecStage = tuning.stage != 0;
  if (tuning.wide >= 0) k.matvecWide = tuning.wide != 0;
  if (tuning.dot8 >= 0) k.matvecDot8 = tuning.dot8 != 0;
}

// 3. The environment, for experiments and the bench's sweeps.
void applyEnvironment(KernelChoice& k) {
  // Decode matrix-vector kernels: stage f(x) in shared memory once per workgroup (PARLEY_MATVEC_STAGE=1) or
  // read it from global memory per row (0).
  k.matvecStage = envSwitch("PARLEY_MATVEC_STAGE", k.matvecStage);
  // Rows per subgroup in the decode matrix-vector kernels (`npm run bench -- --matvec-rows 1,2,4` sweeps it).
  k.matvecRows = envUint("PARLEY_MATVEC_ROWS", 1, 8, k.matvecRows);
  // Decode matrix-vector lanes loading 4 adjacent quant words (16 bytes) at a time, x staged with one pad float
  // per 32 so the lanes' reads stay in different banks (PARLEY_MATVEC_WIDE=1; off until a GPU run times it).
  k.matvecWide = envSwitch("PARLEY_MATVEC_WIDE", k.matvecWide);
  // Decode products of Q4_0 and Q8_0 weights through the 4×8-bit integer dot product, f(x) rounded to bytes per
  // 32-element block (as llama.cpp's quantized dot products round it). Off by default until a GPU run measures
  // it: it stages f(x) per workgroup, which made the H200's decode slower once before (docs/PERFORMANCE.md,
  // run 3); runtime/bench/gpu/steps.sh times it against the float kernels, and a tuning picks it where it wins.
  k.matvecDot8 = envSwitch("PARLEY_MATVEC_DOT8", k.matvecDot8);
  // PARLEY_FUSED_ARGMAX=0/1: decode's greedy argmax in the LM head product, or a dispatch of its own.
  k.fusedArgmax = envSwitch("PARLEY_FUSED_ARGMAX", k.fusedArgmax);
  // PARLEY_SWIGLU_PAIRS=0: decode's down product computes SwiGLU as it reads gate and up (the older way), for comparison.
  k.swigluPairs = envSwitch("PARLEY_SWIGLU_PAIRS", k.swigluPairs);
  // Prefill: on GPUs the tiled GEMM (default) or the older 16-token tiles; PARLEY_PREFILL=gemm|tiled16|matvec|
  // coopmat compares them with the matrix-vector kernels over token tiles (PARLEY_PREFILL_TOKENS per workgroup)
  // and the GEMM through cooperative matrices.
  if (const char* env = std::getenv("PARLEY_PREFILL")) {
    const std::string v(env);
    if (v != "gemm" && v != "tiled16" && v != "matvec" && v != "coopmat")
      throw NativeError("INVALID_ARGUMENT", "PARLEY_PREFILL must be gemm, tiled16, matvec or coopmat, got '" + v + "'");
    k.prefillGemm = v == "gemm";
    k.prefillMatvec = v == "matvec";
    k.prefillCoopmat = v == "coopmat";
  }
  // The cooperative-matrix prefill computed without cooperative matrices (matmul_coopmat_emu_*): how CI proves
  // that kernel on lavapipe, and how a GPU run checks the real one against it.
  k.coopmatEmulated = envSwitch("PARLEY_COOPMAT_EMULATE", false);
  // The GEMM's Q4_0/Q8_0 products through the 4×8-bit integer dot product, x rounded to bytes per token and
  // 32-element block (PARLEY_PREFILL_DOT8=1). Off by default until a GPU run times it against the float GEMM.
  k.prefillDot8 = envSwitch("PARLEY_PREFILL_DOT8", k.prefillDot8);
  k.prefillTokens = envUint("PARLEY_PREFILL_TOKENS", 2, 16, k.prefillTokens);
  k.prefillRows = envUint("PARLEY_PREFILL_ROWS", 1, 8, k.prefillRows);
  // Threads per row of the tiled prefill kernels.
  k.maxTpr = envUint("PARLEY_TPR", 1, 64, k.gpuPrefill ? 4 : 1);
}

}  // namespace

KernelChoice chooseKernels(const DeviceInfo& device, const LlamaHParams& hp, KernelSet kernels, const KernelTuning& tuning, uint32_t ubatch) {
  KernelChoice k;
  deviceDefaults(k, device, hp, kernels);
  applyTuning(k, tuning, kernels);
  applyEnvironment(k);
  if ((k.matvecDot8 || k.prefillDot8) && !device.integerDotKernels)
    throw NativeError("INVALID_ARGUMENT", "the integer dot product kernels (PARLEY_MATVEC_DOT8 / PARLEY_PREFILL_DOT8 or a tuning): " + device.name +
                                              (device.integerDot ? " has subgroups of " + std::to_string(device.subgroupSize) +
                                                                       (device.subgroupShuffle ? "" : " without shuffles") + "; they need shuffles on at least 8"
                                                                 : " has no integer dot product (VK_KHR_shader_integer_dot_product)"));
  k.matvecDot8 = k.matvecDot8 && k.matvecDecode;
  if (k.prefillCoopmat && k.gpuPrefill && !k.prefillMatvec) {
    if (!k.coopmatEmulated && !device.cooperativeMatrixPrefill)
      throw NativeError("INVALID_ARGUMENT", "the cooperative-matrix prefill (PARLEY_PREFILL=coopmat or a tuning): " + device.name +
                                                " has no VK_NV_cooperative_matrix with 16x16x16 fp16 products on subgroups of 32");
    if (!device.fp16)
      throw NativeError("INVALID_ARGUMENT", "the cooperative-matrix prefill needs fp16 arithmetic, which " + device.name + " lacks");
  }
  // PARLEY_PREFILL_ATTENTION=0: the older attention kernel for prompt steps, for comparison.
  k.prefillFlashAttention = hp.headDim % 8 == 0 && hp.headDim <= 256 && device.subgroupSize >= 4 && device.subgroupShuffle &&
                            envSwitch("PARLEY_PREFILL_ATTENTION", true);
  // GPUs: steps of at most kShortPrefill tokens (a player's line after a cached persona) replay a third
  // recording that runs the matrix-vector kernels over token tiles, which read each weight once, instead of
  // the GEMM's 64-token tiles. PARLEY_SHORT_PREFILL=0 turns it off for comparison.
  k.shortPrefill = k.gpuPrefill && !k.prefillMatvec && ubatch > KernelChoice::kShortPrefill && envUint("PARLEY_SHORT_PREFILL", 0, 1, 1) == 1;
  return k;
}
