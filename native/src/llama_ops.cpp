#include "llama_ops.h"

#include <algorithm>
#include <cmath>
#include <string>

#include "vk_check.h"

namespace {

uint32_t ceilDiv(uint64_t a, uint64_t b) {
  return uint32_t((a + b - 1) / b);
}

// Elements per 32-bit quant word in the matrix-vector kernels (ELEMS_PER_WORD in native/shaders/matvec.comp).
uint32_t elementsPerWord(uint32_t type) {
  switch (type) {
    case GGML_F32:
      return 1;
    case GGML_F16:
    case GGML_BF16:
      return 2;
    case GGML_Q8_0:
      return 4;
    default:
      return 8;  // Q4_0 and the K-quants' nibbles
  }
}

// The longest row the matrix-vector kernels stage in shared memory (STAGE_MAX in native/shaders/matvec.comp).
constexpr uint32_t kStageMax = 6144;

}  // namespace

Grid productGrid(uint32_t rowsPerWg, uint32_t rows) {
  const uint32_t groups = ceilDiv(rows, rowsPerWg);
  return {std::min(groups, kMaxGroups), ceilDiv(groups, kMaxGroups), 1};
}

uint32_t matvecRowsPerWorkgroup(uint32_t subgroupSize, uint32_t rowsPerSubgroup) {
  return std::max(1u, 256u / std::max(1u, subgroupSize)) * rowsPerSubgroup;
}

// The push constants that place a product's outputs (native/shaders/output_rows.glsl): rows where outputs 1
// and 2 start, and their float offsets from output 0's.
struct LlamaOps::OutputRows {
  uint32_t row1, row2, base1, base2;
};

namespace {

// native/shaders/matvec.comp's push constants (decode and token tiles alike).
template <typename Rows>
struct MatvecPC {
  uint32_t K, M, scaleOffset, accumulate, xMode;
  float eps;
  uint32_t rowsPerWg, logitsOnly;
  Rows seg;
};

}  // namespace

// The product kernels bind output 0's view as y, reaching to the end of the buffer when more outputs follow.
BufferView LlamaOps::outputRows(const WeightMatrix& w, const ProductOuts& outs, OutputRows& rows) const {
  if (outs.empty() || outs.size() > 3) throw NativeError("VULKAN", "a product writes 1 to 3 outputs");
  rows = {w.M, w.M, 0, 0};
  uint32_t row = outs[0].rows;
  uint32_t* starts[2] = {&rows.row1, &rows.row2};
  uint32_t* bases[2] = {&rows.base1, &rows.base2};
  for (size_t i = 1; i < outs.size(); ++i) {
    const BufferView& v = outs[i].view;
    if (v.buffer != outs[0].view.buffer || v.offset < outs[0].view.offset || (v.offset - outs[0].view.offset) % 4 != 0)
      throw NativeError("VULKAN", "a stacked product's outputs must follow its first in one buffer");
    *starts[i - 1] = row;
    *bases[i - 1] = uint32_t((v.offset - outs[0].view.offset) / 4);
    row += outs[i].rows;
  }
  if (row != w.M) throw NativeError("VULKAN", "a product's outputs must cover its matrix's rows");
  BufferView y = outs[0].view;
  if (outs.size() > 1) y.range = VK_WHOLE_SIZE;
  return y;
}

void LlamaOps::embed(const Buffer& tokens, const Buffer& x, uint32_t capacity) {
  const WeightMatrix& table = f_.model.tokenEmbd;
  struct {
    uint32_t K, nVocab, scaleOffset;
  } pc{hp_.nEmbd, hp_.nVocab, table.scaleOffsetWords};
  r_.dispatch(KernelKey(KernelId::Embed, table.type), {table.buffer, tokens, x}, pc, capacity);
}

void LlamaOps::rmsnorm(const Buffer& x, const Buffer& weight, const Buffer& out, uint32_t capacity, bool logitsOnly) {
  struct {
    uint32_t n;
    float eps;
    uint32_t logitsOnly;
  } pc{hp_.nEmbd, hp_.rmsEps, logitsOnly};
  r_.dispatch(KernelKey(KernelId::Rmsnorm), {x, weight, out}, pc, capacity);
}

void LlamaOps::matvec(const WeightMatrix& w, const BufferView& x, const ProductOuts& outs, bool accumulate, XMode mode,
                      const BufferView* aux) {
  OutputRows seg;
  const BufferView y = outputRows(w, outs, seg);
  matvecDispatch(w, x, y, w.M, seg, accumulate, mode, aux ? *aux : x, {});
}

void LlamaOps::matvecArgmax(const WeightMatrix& w, const BufferView& x, const BufferView& logits, uint32_t rows, const BufferView& norm) {
  OutputRows seg;
  const BufferView y = outputRows(w, {{logits, rows}}, seg);
  matvecDispatch(w, x, y, w.M, seg, false, XMode::RmsNorm, norm, {true, false});
}

void LlamaOps::matvecSwigluPairs(const WeightMatrix& w, const BufferView& x, const BufferView& out, uint32_t rows, const BufferView& norm) {
  if (w.M % 2 != 0 || rows != w.M / 2)
    throw NativeError("VULKAN", "internal: a SwiGLU pair product writes one output of half its matrix's rows");
  const uint32_t M = w.M / 2;
  const OutputRows seg{M, M, 0, 0};
  matvecDispatch(w, x, out, M, seg, false, XMode::RmsNorm, norm, {false, true});
}

void LlamaOps::matvecDispatch(const WeightMatrix& w, const BufferView& x, const BufferView& y, uint32_t M, const OutputRows& seg,
                              bool accumulate, XMode mode, const BufferView& aux, MatvecVariant variant) {
  const KernelChoice& k = f_.kernels;
  // Each subgroup computes `rows` output rows together (with SwiGLU pairs it reads twice as many weight rows).
  const uint32_t rows = k.matvecRows;
  const uint32_t rowsPerWg = matvecRowsPerWorkgroup(f_.subgroupSize, rows);
  MatvecPC<OutputRows> pc{w.K, M, w.scaleOffsetWords, accumulate, uint32_t(mode), hp_.rmsEps, rowsPerWg, 0, seg};
  const Grid grid = productGrid(rowsPerWg, M);
  // Staging f(x) in shared memory needs the row to fit; so does the integer dot product path, which rounds the
  // staged f(x) to bytes.
  const bool dot8 = k.matvecDot8 && (w.type == GGML_Q4_0 || w.type == GGML_Q8_0) && w.K <= kStageMax;
  const bool stage = (k.matvecStage || dot8) && w.K <= kStageMax;
  // 16-byte loads need rows of a multiple of 4 quant words (every K-quant row has them).
  const bool wide = k.matvecWide && !dot8 && (w.K / elementsPerWord(w.type)) % 4 == 0;
  const KernelId id = dot8 ? (variant.argmax ? KernelId::MatvecDot8Argmax : KernelId::MatvecDot8)
                           : (variant.argmax ? KernelId::MatvecArgmax : KernelId::Matvec);
  // Specialization constants: weight rows per subgroup, staging, tokens (1), load width, SwiGLU pairs.
  const KernelKey kernel(id, w.type,
                         {variant.swigluPairs ? 2 * rows : rows, stage ? 1u : 0u, 1u, wide ? 4u : 1u, variant.swigluPairs ? 1u : 0u});
  if (!variant.argmax) {
    r_.dispatch(kernel, {w.buffer, x, y, aux}, pc, grid.x, grid.y);
    return;
  }
  const SessionBuffers& b = f_.buffers;
  if (8 + 8 * grid.workgroups() > b.argmaxCandidates.size())
    throw NativeError("VULKAN",
                      "internal: the argmax candidates buffer is too small for " + std::to_string(grid.workgroups()) + " workgroups");
  r_.dispatch(kernel, {w.buffer, x, y, aux, b.argmaxCandidates, b.argmax}, pc, grid.x, grid.y);
}

void LlamaOps::matmul(const WeightMatrix& w, const BufferView& x, const ProductOuts& outs, bool accumulate, bool logitsOnly,
                      uint32_t capacity, PrefillKernel kernel) {
  const KernelChoice& k = f_.kernels;
  OutputRows seg;
  const BufferView y = outputRows(w, outs, seg);
  if (capacity > 1 && kernel == PrefillKernel::Matvec) {
    // The matrix-vector kernels over a tile of tokens per workgroup (grid z), each weight decoded once per tile.
    const uint32_t rowsPerWg = matvecRowsPerWorkgroup(f_.subgroupSize, k.prefillRows);
    MatvecPC<OutputRows> pc{w.K, w.M, w.scaleOffsetWords, accumulate, uint32_t(XMode::Plain), 0.0f, rowsPerWg, logitsOnly, seg};
    const Grid grid = productGrid(rowsPerWg, w.M);
    r_.dispatch(KernelKey(KernelId::Matvec, w.type, {k.prefillRows, 0, k.prefillTokens}), {w.buffer, x, y, x}, pc, grid.x, grid.y,
                ceilDiv(capacity, k.prefillTokens));
    return;
  }
  // Threads per row: on GPUs enough to cover the row's blocks, at most maxTpr (PARLEY_TPR); one on CPU drivers.
  uint32_t tpr = 1;
  while (tpr < k.maxTpr && tpr < w.K / 32) tpr *= 2;
  struct {
    uint32_t K, M, scaleOffset, accumulate, logitsOnly, tpr;
    OutputRows seg;
  } pc{w.K, w.M, w.scaleOffsetWords, accumulate, logitsOnly, tpr, seg};
  if (capacity > 1 && kernel == PrefillKernel::Coopmat) {
    // 64-row × 64-token tiles through cooperative matrices (or their emulation).
    const KernelKey key(k.coopmatEmulated ? KernelId::MatmulCoopmatEmu : KernelId::MatmulCoopmat, w.type);
    r_.dispatch(key, {w.buffer, x, y}, pc, ceilDiv(w.M, 64), ceilDiv(capacity, 64));
    return;
  }
  if (capacity > 1 && kernel == PrefillKernel::Gemm) {
    // 64-row × 64-token tiles; workgroups past the step's live tokens return at once.
    const bool dot8 = k.prefillDot8 && (w.type == GGML_Q4_0 || w.type == GGML_Q8_0);
    r_.dispatch(KernelKey(dot8 ? KernelId::MatmulTiledDot8 : KernelId::MatmulTiled, w.type), {w.buffer, x, y}, pc, ceilDiv(w.M, 64),
                ceilDiv(capacity, 64));
    return;
  }
  // 16-token tiles over grid z (Tiled16), or one lane per row (Lane; a single token: matmul1).
  const bool wide = capacity > 1 && kernel == PrefillKernel::Tiled16;
  const KernelKey key(capacity == 1 ? KernelId::Matmul1 : wide ? KernelId::Matmul16 : KernelId::Matmul, w.type);
  const Grid grid = productGrid(64 / tpr, w.M);
  r_.dispatch(key, {w.buffer, x, y}, pc, grid.x, grid.y, wide && !logitsOnly ? ceilDiv(capacity, 16) : 1);
}

namespace {

// Layer `layer`'s first entry in the KV cache, in (k, v) pairs of f16 values.
uint32_t cacheOffset(const LlamaHParams& hp, uint32_t contextSize, uint32_t layer) {
  return layer * contextSize * (hp.nHeadKv * hp.headDim / 2);
}

float attentionScale(const LlamaHParams& hp) {
  return float(1.0 / std::sqrt(double(hp.headDim)));
}

}  // namespace

void LlamaOps::ropeKv(const BufferView& q, const BufferView& k, const BufferView& v, uint32_t layer, uint32_t capacity) {
  const SessionBuffers& b = f_.buffers;
  struct {
    uint32_t nHead, nHeadKv, headDim, ropeDim, cacheOffset;
  } pc{hp_.nHead, hp_.nHeadKv, hp_.headDim, hp_.ropeDim, cacheOffset(hp_, f_.contextSize, layer)};
  r_.dispatch(KernelKey(KernelId::RopeKv), {q, k, v, b.rope, b.kCache, b.vCache}, pc, capacity);
}

void LlamaOps::attention(const BufferView& q, const Buffer& attn, uint32_t layer, uint32_t capacity) {
  const SessionBuffers& b = f_.buffers;
  struct {
    uint32_t nHead, nHeadKv, headDim, cacheOffset;
    float scale;
  } pc{hp_.nHead, hp_.nHeadKv, hp_.headDim, cacheOffset(hp_, f_.contextSize, layer), attentionScale(hp_)};
  if (capacity > 1 && f_.kernels.prefillAttention == PrefillAttention::QueryTiles) {
    // 64 (token, head) rows of one KV head per workgroup, the head size as specialization constant 0.
    const uint32_t rows = capacity * (hp_.nHead / hp_.nHeadKv);
    r_.dispatch(KernelKey(KernelId::AttentionPrefill, kNoWeightType, {hp_.headDim}), {q, b.kCache, b.vCache, attn}, pc, ceilDiv(rows, 64),
                hp_.nHeadKv);
  } else {
    r_.dispatch(KernelKey(KernelId::Attention), {q, b.kCache, b.vCache, attn}, pc, hp_.nHead, capacity);
  }
}

void LlamaOps::attentionDecode(const BufferView& q, const BufferView& k, const BufferView& v, const Buffer& attn, uint32_t layer) {
  const SessionBuffers& b = f_.buffers;
  const KernelChoice& kc = f_.kernels;
  // RoPE, the KV-cache store and the combine of the key chunks happen inside the one dispatch.
  struct {
    uint32_t nHead, nHeadKv, headDim, cacheOffset;
    float scale;
    uint32_t ropeDim, chunk, headsPerWg;
  } pc{hp_.nHead,           hp_.nHeadKv, hp_.headDim,  cacheOffset(hp_, f_.contextSize, layer),
       attentionScale(hp_), hp_.ropeDim, kc.attnChunk, kc.attnHeadsPerWg};
  r_.dispatch(KernelKey(KernelId::AttentionDecode), {q, b.kCache, b.vCache, attn, k, v, b.rope, b.attnPartials, b.attnCounters}, pc,
              hp_.nHead / kc.attnHeadsPerWg, ceilDiv(f_.contextSize, kc.attnChunk));
}

void LlamaOps::siluMul(const BufferView& gate, const BufferView& up, uint32_t capacity) {
  struct {
    uint32_t nFf;
  } pc{hp_.nFf};
  const uint32_t groups = ceilDiv(uint64_t(capacity) * hp_.nFf, 256);
  r_.dispatch(KernelKey(KernelId::SiluMul), {gate, up}, pc, std::min(groups, kMaxGroups), ceilDiv(groups, kMaxGroups));
}

void LlamaOps::argmax(const Buffer& logits) {
  struct {
    uint32_t nVocab;
  } pc{hp_.nVocab};
  r_.dispatch(KernelKey(KernelId::Argmax), {logits, f_.buffers.argmax}, pc, 1);
}

void LlamaOps::topk() {
  // topkGroups workgroups each select the top 64 of their slice of the logits row, and the last to finish
  // selects among their candidates (native/shaders/topk.comp).
  const SessionBuffers& b = f_.buffers;
  struct {
    uint32_t nVocab, slice;
  } pc{hp_.nVocab, ceilDiv(hp_.nVocab, f_.kernels.topkGroups)};
  r_.dispatch(KernelKey(KernelId::Topk), {b.logits, b.topk, b.topkCandidates}, pc, ceilDiv(hp_.nVocab, pc.slice));
}

void LlamaOps::decodeAdvance() {
  const SessionBuffers& b = f_.buffers;
  const WeightMatrix& embd = f_.model.tokenEmbd;
  struct {
    uint32_t nVocab, capacity, K, scaleOffset;
  } pc{hp_.nVocab, SessionBuffers::kMaxChain, hp_.nEmbd, embd.scaleOffsetWords};
  r_.dispatch(KernelKey(KernelId::DecodeAdvance, embd.type), {b.params, b.argmax, b.chain, embd.buffer, b.x}, pc, 1);
}

void LlamaOps::topkSample() {
  const SessionBuffers& b = f_.buffers;
  const WeightMatrix& embd = f_.model.tokenEmbd;
  struct {
    uint32_t nVocab, slice, capacity, K, scaleOffset;
  } pc{hp_.nVocab, ceilDiv(hp_.nVocab, f_.kernels.topkGroups), SessionBuffers::kMaxChain, hp_.nEmbd, embd.scaleOffsetWords};
  r_.dispatch(KernelKey(KernelId::TopkSample, embd.type),
              {b.logits, b.topk, b.topkCandidates, b.params, b.chain, b.samplerState, b.history, embd.buffer, b.x}, pc,
              ceilDiv(hp_.nVocab, pc.slice));
}
