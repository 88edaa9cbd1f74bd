#include "kernel_choice.h"

#include <algorithm>
#include <string>

#include "vk_check.h"

namespace {

// 1. The device's defaults. CPU drivers (lavapipe) decode with the fused matrix-vector kernels, 8 rows per
// subgroup and x staged, and prefill wide models through the same kernels over token tiles: on lavapipe those
// beat the one-lane-per-row set and the GEMM (docs/PERFORMANCE.md has the measurements). GPUs keep the
// GPU-shaped kernels until a tuning measured on the device replaces them.
void deviceDefaults(KernelChoice& k, const DeviceInfo& device, const LlamaHParams& hp, KernelSet kernels) {
  const bool cpuDevice = device.type == "cpu";
  k.decode = kernels == KernelSet::Cpu ? DecodeKernel::Lane : DecodeKernel::Matvec;
  const bool gpuPrefill = kernels == KernelSet::Gpu || (kernels == KernelSet::Auto && !cpuDevice);
  k.prefill = gpuPrefill ? PrefillKernel::Gemm : PrefillKernel::Lane;
  if (kernels == KernelSet::Auto && cpuDevice) {
    k.matvecRows = 8;
    k.matvecStage = true;
    // The fused argmax's workgroup barriers and atomics cost a CPU driver more than the dispatch it saves.
    k.fusedArgmax = false;
    // Prefill through the matrix-vector kernels, 8 rows × 8 tokens per subgroup; below dim 256 the dispatch
    // overhead dominates and one lane per row stays ahead.
    if (hp.nEmbd >= 256) k.prefill = PrefillKernel::Matvec;
  }
}

// 2. A measured tuning for this device and model; its prefill part only where the kernel set is left to the
// runtime (an explicit "gpu" or "cpu" set stays what it says).
void applyTuning(KernelChoice& k, const KernelTuning& tuning, KernelSet kernels) {
  if (tuning.prefillKernel >= 0 && kernels == KernelSet::Auto) {
    if (tuning.prefillKernel > int(PrefillKernel::Coopmat))
      throw NativeError("INVALID_ARGUMENT", "tuning: unknown prefill kernel " + std::to_string(tuning.prefillKernel));
    k.prefill = PrefillKernel(tuning.prefillKernel);
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

// 3. Overrides, for experiments and the bench's sweeps (the PARLEY_* environment variables).
void applyOverrides(KernelChoice& k, const KernelOverrides& o) {
  // Decode matrix-vector kernels: f(x) staged in shared memory once per workgroup, or read from global memory
  // per row.
  k.matvecStage = o.matvecStage.value_or(k.matvecStage);
  // Rows per subgroup in the decode matrix-vector kernels (`npm run bench -- --matvec-rows 1,2,4` sweeps it).
  k.matvecRows = o.matvecRows.value_or(k.matvecRows);
  // Decode matrix-vector lanes loading 4 adjacent quant words (16 bytes) at a time, x staged with one pad float
  // per 32 so the lanes' reads stay in different banks (off until a GPU run times it).
  k.matvecWide = o.matvecWide.value_or(k.matvecWide);
  // Decode products of Q4_0 and Q8_0 weights through the 4×8-bit integer dot product, f(x) rounded to bytes per
  // 32-element block (as llama.cpp's quantized dot products round it). Off by default until a GPU run measures
  // it: it stages f(x) per workgroup, which made the H200's decode slower once before (docs/PERFORMANCE.md);
  // bench/gpu/steps.sh times it against the float kernels, and a tuning picks it where it wins.
  k.matvecDot8 = o.matvecDot8.value_or(k.matvecDot8);
  // Decode's greedy argmax in the LM head product, or a dispatch of its own.
  k.fusedArgmax = o.fusedArgmax.value_or(k.fusedArgmax);
  // Off: decode's down product computes SwiGLU as it reads gate and up, for comparison.
  k.swigluPairs = o.swigluPairs.value_or(k.swigluPairs);
  // Prefill: on GPUs the tiled GEMM (default) or 16-token tiles, compared with the matrix-vector kernels over
  // token tiles and the GEMM through cooperative matrices.
  const bool gpuPrefill = gpuShaped(k.prefill);
  if (o.prefill) k.prefill = *o.prefill == PrefillKernel::Matvec ? PrefillKernel::Matvec : gpuPrefill ? *o.prefill : PrefillKernel::Lane;
  // The cooperative-matrix prefill computed without cooperative matrices (matmul_coopmat_emu_*): how CI proves
  // that kernel on lavapipe, and how a GPU run checks the real one against it.
  k.coopmatEmulated = o.coopmatEmulated;
  // The GEMM's Q4_0/Q8_0 products through the 4×8-bit integer dot product, x rounded to bytes per token and
  // 32-element block. Off by default until a GPU run times it against the float GEMM.
  k.prefillDot8 = o.prefillDot8.value_or(k.prefillDot8);
  k.prefillTokens = o.prefillTokens.value_or(k.prefillTokens);
  k.prefillRows = o.prefillRows.value_or(k.prefillRows);
  // Threads per row of the 16-token tiles and the one-lane-per-row kernels.
  k.maxTpr = o.maxTpr.value_or(gpuPrefill ? 4 : 1);
}

}  // namespace

KernelChoice chooseKernels(const DeviceInfo& device, const LlamaHParams& hp, KernelSet kernels, const KernelTuning& tuning,
                           const KernelOverrides& overrides, uint32_t ubatch) {
  KernelChoice k;
  deviceDefaults(k, device, hp, kernels);
  applyTuning(k, tuning, kernels);
  applyOverrides(k, overrides);
  if ((k.matvecDot8 || k.prefillDot8) && !device.integerDotKernels)
    throw NativeError(
        "INVALID_ARGUMENT",
        "the integer dot product kernels (PARLEY_MATVEC_DOT8 / PARLEY_PREFILL_DOT8 or a tuning): " + device.name +
            (device.integerDot ? " has subgroups of " + std::to_string(device.subgroupSize) +
                                     (device.subgroupShuffle ? "" : " without shuffles") + "; they need shuffles on at least 8"
                               : " has no integer dot product (VK_KHR_shader_integer_dot_product)"));
  k.matvecDot8 = k.matvecDot8 && k.decode == DecodeKernel::Matvec;
  if (k.prefill == PrefillKernel::Coopmat) {
    if (!k.coopmatEmulated && !device.cooperativeMatrixPrefill)
      throw NativeError("INVALID_ARGUMENT", "the cooperative-matrix prefill (PARLEY_PREFILL=coopmat or a tuning): " + device.name +
                                                " has no VK_NV_cooperative_matrix with 16x16x16 fp16 products on subgroups of 32");
    if (!device.fp16)
      throw NativeError("INVALID_ARGUMENT", "the cooperative-matrix prefill needs fp16 arithmetic, which " + device.name + " lacks");
  }
  // Decode attention runs one workgroup per (pack of query heads sharing a KV head, chunk of keys); the last
  // chunk of a pack to finish combines the partials: 64 keys per chunk, and the most query heads per pack that
  // divide the GQA group, at most 8, unless overridden (tests, tuning).
  const uint32_t group = hp.nHead / hp.nHeadKv;
  uint32_t packHeads = std::min(group, 8u);
  while (group % packHeads != 0) --packHeads;
  k.attnChunk = overrides.attnChunk.value_or(k.attnChunk);
  k.attnHeadsPerWg = overrides.attnHeadsPerWg.value_or(packHeads);
  if (group % k.attnHeadsPerWg != 0)
    throw NativeError("INVALID_ARGUMENT", "PARLEY_ATTN_HEADS must divide the " + std::to_string(group) + " query heads per KV head, got " +
                                              std::to_string(k.attnHeadsPerWg));
  // The topk kernel's slices: ~1,000 logits each on GPUs (32 for Llama's vocabulary), so each level of its
  // selection is short; one on CPU drivers, where each workgroup's ~100 barriers cost more than the passes.
  k.topkGroups = device.type == "cpu" ? 1 : std::min(32u, uint32_t((hp.nVocab + 999) / 1000));
  k.topkGroups = overrides.topkGroups.value_or(k.topkGroups);
  // Prompt steps' attention over query tiles where the kernel can run (overridden: one workgroup per head and
  // token everywhere, for comparison).
  const bool queryTiles =
      hp.headDim % 8 == 0 && hp.headDim <= 256 && device.subgroupSize >= 4 && device.subgroupShuffle && overrides.prefillQueryTiles;
  k.prefillAttention = queryTiles ? PrefillAttention::QueryTiles : PrefillAttention::PerHead;
  // GPUs: steps of at most kShortPrefill tokens (a player's line after a cached persona) replay a third
  // recording that runs the matrix-vector kernels over token tiles, which read each weight once, instead of
  // the GEMM's 64-token tiles (overridden off for comparison).
  k.shortPrefill = gpuShaped(k.prefill) && ubatch > KernelChoice::kShortPrefill && overrides.shortPrefill;
  return k;
}
