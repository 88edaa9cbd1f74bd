#include "session.h"

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <set>
#include <cstring>
#include <string>
#include <thread>

#include "kernel.h"
#include "vk_check.h"
#include "vk_context.h"

namespace {

struct StepParams {  // mirrors `StepParams` in native/shaders/common.glsl
  uint32_t nTokens, pos0, logitsBegin, pad;
};

constexpr VkBufferUsageFlags kStorage =
    VK_BUFFER_USAGE_STORAGE_BUFFER_BIT | VK_BUFFER_USAGE_TRANSFER_SRC_BIT | VK_BUFFER_USAGE_TRANSFER_DST_BIT;
constexpr uint32_t kMaxContext = 4096;  // attention keeps one head's scores in 16 KB of shared memory
constexpr uint32_t kMaxGroups = 65535;
constexpr uint32_t kMaxTimestamps = 4096;

uint32_t ceilDiv(uint64_t a, uint64_t b) { return uint32_t((a + b - 1) / b); }

// Elements per 32-bit quant word in the matrix-vector kernels (ELEMS_PER_WORD in native/shaders/matvec.comp).
uint32_t elementsPerWord(uint32_t type) {
  switch (type) {
    case GGML_F32: return 1;
    case GGML_F16: case GGML_BF16: return 2;
    case GGML_Q8_0: return 4;
    default: return 8;  // Q4_0 and the K-quants' nibbles
  }
}


// decodeChain's sampler and penalty window, checked before anything reaches the device (typed errors).
void checkChainSampling(const Session::Sampling& sp, uint32_t nVocab, uint32_t pos, size_t windowSize) {
  const bool greedy = !(sp.temperature > 0.0f);
  const bool rngZero = (sp.rng[0] | sp.rng[1] | sp.rng[2] | sp.rng[3]) == 0;
  const uint32_t maxTopK = std::min(Session::kTopK, nVocab) - 1;
  if (!std::isfinite(sp.temperature) || (!greedy && (sp.topK < 1 || sp.topK > maxTopK)) || !(sp.topP > 0.0f && sp.topP <= 1.0f) ||
      !(sp.minP >= 0.0f && sp.minP <= 1.0f) || rngZero)
    throw NativeError("INVALID_ARGUMENT", "decodeChain sampling needs a finite temperature, topK in 1.." + std::to_string(maxTopK) +
                                              ", topP in (0, 1], minP in [0, 1] and a non-zero generator state");
  if (greedy && sp.penaltyWindow == 0)
    throw NativeError("INVALID_ARGUMENT", "decodeChain: greedy decoding without penalties takes the greedy chain (no sampler)");
  if (sp.penaltyWindow > Session::kMaxPenaltyWindow || !(sp.repeatPenalty > 0.0f) || !std::isfinite(sp.repeatPenalty) ||
      !std::isfinite(sp.frequencyPenalty) || !std::isfinite(sp.presencePenalty))
    throw NativeError("INVALID_ARGUMENT", "decodeChain penalties need a window of 0.." + std::to_string(Session::kMaxPenaltyWindow) +
                                              " tokens, a finite repeat penalty > 0 and finite frequency and presence penalties");
  // The history before the chain's first token that the first step's penalty window reaches.
  const uint32_t needed = std::min(sp.penaltyWindow == 0 ? 0u : sp.penaltyWindow - 1, pos);
  if (windowSize < needed || windowSize > pos)
    throw NativeError("INVALID_ARGUMENT", "decodeChain: the penalty window needs the " + std::to_string(needed) +
                                              " tokens before position " + std::to_string(pos) + ", got " + std::to_string(windowSize));
}
}  // namespace

// Records dispatches into a command buffer, allocating one descriptor set per dispatch (once, at
// session creation) and counting dispatches and barriers for the decode plan.
class Session::Recorder {
 public:
  // `matvecTiles`: products over several tokens go through the matrix-vector kernels over token tiles.
  Recorder(Session& s, VkCommandBuffer cmd, uint32_t capacity, Plan& plan, Profile& profile, bool matvecTiles = false)
      : s_(s), cmd_(cmd), capacity_(capacity), plan_(plan), profile_(profile), matvecTiles_(matvecTiles || s.kernels_.prefillMatvec) {
    if (s_.profiling_ && !s_.collecting_) vkCmdWriteTimestamp(cmd_, VK_PIPELINE_STAGE_TOP_OF_PIPE_BIT, profile_.pool, 0);
  }

  template <typename PC>
  void dispatch(const std::string& kernelName, std::initializer_list<BufferView> buffers, const PC& pc, uint32_t gx,
                uint32_t gy = 1, uint32_t gz = 1) {
    static_assert(sizeof(PC) <= Kernel::kPushConstantBytes, "push constants too large");
    if (s_.collecting_) {  // a dry run: which kernels the recordings need
      s_.collecting_->push_back(kernelName);
      return;
    }
    Kernel& k = s_.ctx_.kernel(kernelName);
    if (buffers.size() != k.storageBindings()) throw NativeError("VULKAN", "wrong buffer count for " + kernelName);
    VkDescriptorSetLayout layout = k.setLayout();
    VkDescriptorSetAllocateInfo ai{VK_STRUCTURE_TYPE_DESCRIPTOR_SET_ALLOCATE_INFO};
    ai.descriptorPool = s_.descriptorPool_;
    ai.descriptorSetCount = 1;
    ai.pSetLayouts = &layout;
    VkDescriptorSet set;
    VK_CHECK(vkAllocateDescriptorSets(s_.ctx_.device(), &ai, &set));
    std::vector<VkDescriptorBufferInfo> infos;
    infos.push_back({s_.params_.handle(), 0, VK_WHOLE_SIZE});
    for (const BufferView& b : buffers) infos.push_back({b.buffer->handle(), b.offset, b.range});
    std::vector<VkWriteDescriptorSet> writes(infos.size());
    for (uint32_t i = 0; i < infos.size(); ++i) {
      writes[i] = VkWriteDescriptorSet{VK_STRUCTURE_TYPE_WRITE_DESCRIPTOR_SET};
      writes[i].dstSet = set;
      writes[i].dstBinding = i;
      writes[i].descriptorCount = 1;
      writes[i].descriptorType = i == 0 ? VK_DESCRIPTOR_TYPE_UNIFORM_BUFFER : VK_DESCRIPTOR_TYPE_STORAGE_BUFFER;
      writes[i].pBufferInfo = &infos[i];
    }
    vkUpdateDescriptorSets(s_.ctx_.device(), uint32_t(writes.size()), writes.data(), 0, nullptr);
    uint8_t pcBytes[Kernel::kPushConstantBytes] = {};
    std::memcpy(pcBytes, &pc, sizeof(PC));
    vkCmdBindPipeline(cmd_, VK_PIPELINE_BIND_POINT_COMPUTE, k.pipeline());
    vkCmdBindDescriptorSets(cmd_, VK_PIPELINE_BIND_POINT_COMPUTE, k.pipelineLayout(), 0, 1, &set, 0, nullptr);
    vkCmdPushConstants(cmd_, k.pipelineLayout(), VK_SHADER_STAGE_COMPUTE_BIT, 0, Kernel::kPushConstantBytes, pcBytes);
    vkCmdDispatch(cmd_, gx, gy, gz);
    plan_.dispatches++;
    if (s_.profiling_ && profile_.names.size() + 1 < kMaxTimestamps) {
      profile_.names.push_back(kernelName);
      vkCmdWriteTimestamp(cmd_, VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT, profile_.pool, uint32_t(profile_.names.size()));
    }
  }

  // Where a product's rows go: consecutive row ranges of W (a stacked matrix: one per weight), each to its own
  // view, all views in one buffer. Token t's row r of an output lands at view[t·rows + r].
  struct Out {
    BufferView view;
    uint32_t rows;
  };
  using Outs = std::vector<Out>;

  // The push constants that place the outputs (native/shaders/output_rows.glsl): rows where outputs 1 and 2
  // start, and their float offsets from output 0's.
  struct OutputRows {
    uint32_t row1, row2, base1, base2;
  };

  // The product kernels bind output 0's view as y, reaching to the end of the buffer when more outputs follow.
  static BufferView outputRows(const WeightMatrix& w, const Outs& outs, OutputRows& rows) {
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

  // Prefill: y (+)= W·x over the step's tokens; rows beyond 65535 spill into the y dimension of the grid.
  void matmul(const WeightMatrix& w, const BufferView& x, const Outs& outs, bool accumulate, bool logitsOnly) {
    OutputRows seg;
    const BufferView y = outputRows(w, outs, seg);
    // Threads per row: on GPUs enough to cover the row's blocks, at most 16 so a workgroup spans >= 4
    // rows; on CPU drivers (lavapipe) one thread per row, which avoids the shared-memory reduction and
    // its barriers (measured 4x faster there). PARLEY_TPR overrides for tuning.
    // On GPUs the prefill grid also spreads 16-token tiles over z, so small M still fills the device.
    if (capacity_ > 1 && matvecTiles_) {
      // The matrix-vector kernels over a tile of tokens per workgroup (grid z), each weight decoded once per tile.
      const uint32_t rows = s_.kernels_.prefillRows, tokens = s_.kernels_.prefillTokens;
      const uint32_t rowsPerWg = std::max(1u, 256u / std::max(1u, s_.ctx_.info().subgroupSize)) * rows;
      MatvecPC mpc{w.K, w.M, w.scaleOffsetWords, accumulate, uint32_t(XMode::Plain), 0.0f, rowsPerWg, logitsOnly, seg};
      const uint32_t groups = ceilDiv(w.M, rowsPerWg);
      const std::string kernel = "matvec_" + w.kernelSuffix() + "#" + std::to_string(rows) + "#0#" + std::to_string(tokens);
      dispatch(kernel, {w.buffer, x, y, x}, mpc, std::min(groups, kMaxGroups), ceilDiv(groups, kMaxGroups),
               ceilDiv(capacity_, tokens));
      return;
    }
    const bool cpu = !s_.kernels_.gpuPrefill;
    const uint32_t maxTpr = s_.kernels_.maxTpr;
    uint32_t tpr = 1;
    while (tpr < maxTpr && tpr < w.K / 32) tpr *= 2;
    struct { uint32_t K, M, scaleOffset, accumulate, logitsOnly, tpr; OutputRows seg; } pc{
        w.K, w.M, w.scaleOffsetWords, accumulate, logitsOnly, tpr, seg};
    const uint32_t groups = ceilDiv(w.M, 64 / tpr);
    if (!cpu && capacity_ > 1 && s_.kernels_.prefillCoopmat) {
      // The same 64-row × 64-token tiles through cooperative matrices (or their emulation).
      const std::string kernel = (s_.kernels_.coopmatEmulated ? "matmul_coopmat_emu_" : "matmul_coopmat_") + w.kernelSuffix();
      dispatch(kernel, {w.buffer, x, y}, pc, ceilDiv(w.M, 64), ceilDiv(capacity_, 64));
      return;
    }
    if (!cpu && capacity_ > 1 && s_.kernels_.prefillGemm) {
      // 64-row × 64-token tiles; workgroups past the step's live tokens return at once.
      const uint32_t rowTiles = ceilDiv(w.M, 64), tokenTiles = ceilDiv(capacity_, 64);
      const bool dot8 = s_.kernels_.prefillDot8 && (w.type == GGML_Q4_0 || w.type == GGML_Q8_0);
      dispatch((dot8 ? "matmul_tiled_dot8_" : "matmul_tiled_") + w.kernelSuffix(), {w.buffer, x, y}, pc, rowTiles, tokenTiles);
      return;
    }
    const bool wide = !cpu && capacity_ > 1;
    const std::string kernel = (capacity_ == 1 ? "matmul1_" : wide ? "matmul16_" : "matmul_") + w.kernelSuffix();
    const uint32_t tokenTiles = wide && !logitsOnly ? ceilDiv(capacity_, 16) : 1;
    dispatch(kernel, {w.buffer, x, y}, pc, std::min(groups, kMaxGroups), ceilDiv(groups, kMaxGroups), tokenTiles);
  }

  // Decode: y (+)= W·f(x) for one token, where f is the step fused in front of the product: nothing,
  // the RMSNorm (aux = its weight) or SwiGLU's silu(x)·aux (x = gate, aux = up).
  enum class XMode : uint32_t { Plain = 0, RmsNorm = 1, SwiGlu = 2 };
  // argmax: also find y's largest entry's index into s_.argmax_ (decode's LM head; matvec.comp's ARGMAX).
  // swigluPairs: w is gate and up stacked (equal halves) and y gets silu(gate)·up, one row per gate row
  // (matvec.comp's PAIRS; outs is that one output).
  void matvec(const WeightMatrix& w, const BufferView& x, const Outs& outs, bool accumulate, XMode mode, const BufferView* aux,
              bool argmax = false, bool swigluPairs = false) {
    OutputRows seg;
    BufferView y;
    uint32_t M = w.M;  // output rows
    if (swigluPairs) {
      if (outs.size() != 1 || w.M % 2 != 0 || outs[0].rows != w.M / 2 || accumulate || argmax)
        throw NativeError("VULKAN", "internal: a SwiGLU pair product writes one output of half its matrix's rows");
      M = w.M / 2;
      seg = {M, M, 0, 0};
      y = outs[0].view;
    } else {
      y = outputRows(w, outs, seg);
    }
    // Each subgroup computes `rows` output rows together (a specialization constant of the kernel; with
    // SwiGLU pairs it reads twice as many weight rows).
    const uint32_t rows = s_.kernels_.matvecRows;
    const uint32_t rowsPerWg = std::max(1u, 256u / std::max(1u, s_.ctx_.info().subgroupSize)) * rows;
    MatvecPC pc{w.K, M, w.scaleOffsetWords, accumulate, uint32_t(mode), s_.model_->hparams().rmsEps, rowsPerWg, 0, seg};
    const uint32_t groups = ceilDiv(M, rowsPerWg);
    // Staging f(x) in shared memory (specialization constant 1) needs the row to fit its 6144 floats; so does
    // the integer dot product path, which rounds the staged f(x) to bytes.
    const bool dot8 = s_.kernels_.matvecDot8 && (w.type == GGML_Q4_0 || w.type == GGML_Q8_0) && w.K <= 6144;
    const bool stage = (s_.kernels_.matvecStage || dot8) && w.K <= 6144;
    // 16-byte loads need rows of a multiple of 4 quant words (every K-quant row has them).
    const uint32_t words = w.K / elementsPerWord(w.type);
    const bool wide = s_.kernels_.matvecWide && !dot8 && words % 4 == 0;
    // Specialization constants: rows per subgroup (weight rows), staging, tokens (1), load width, SwiGLU pairs.
    const std::string specs = swigluPairs ? "#" + std::to_string(2 * rows) + (stage ? "#1" : "#0") + "#1" + (wide ? "#4" : "#1") + "#1"
                              : wide      ? "#" + std::to_string(rows) + (stage ? "#1" : "#0") + "#1#4"
                              : rows == 1 && !stage ? ""
                                                    : "#" + std::to_string(rows) + (stage ? "#1" : "");
    const std::string kernel = (dot8 ? "matvec_dot8_" : "matvec_") + std::string(argmax ? "argmax_" : "") + w.kernelSuffix() + specs;
    const uint32_t gx = std::min(groups, kMaxGroups), gy = ceilDiv(groups, kMaxGroups);
    if (!argmax) {
      dispatch(kernel, {w.buffer, x, y, aux ? *aux : x}, pc, gx, gy);
      return;
    }
    if (8 + 8 * uint64_t(gx) * gy > s_.argmaxCandidates_.size())
      throw NativeError("VULKAN", "internal: the argmax candidates buffer is too small for " + std::to_string(gx * gy) + " workgroups");
    dispatch(kernel, {w.buffer, x, y, aux ? *aux : x, s_.argmaxCandidates_, s_.argmax_}, pc, gx, gy);
  }

  void rmsnorm(const Buffer& x, const Buffer& weight, const Buffer& out, uint32_t capacity, bool logitsOnly) {
    const LlamaHParams& hp = s_.model_->hparams();
    struct { uint32_t n; float eps; uint32_t logitsOnly; } pc{hp.nEmbd, hp.rmsEps, logitsOnly};
    dispatch("rmsnorm", {x, weight, out}, pc, capacity);
  }

  void barrier() {
    if (!s_.collecting_) computeBarrier(cmd_);
    plan_.barriers++;
  }

 private:
  // native/shaders/matvec.comp's push constants (decode and token tiles alike).
  struct MatvecPC {
    uint32_t K, M, scaleOffset, accumulate, xMode;
    float eps;
    uint32_t rowsPerWg, logitsOnly;
    OutputRows seg;
  };

  Session& s_;
  VkCommandBuffer cmd_;
  uint32_t capacity_;  // tokens the recorded grid covers: 1 selects the matrix-vector kernels
  Plan& plan_;
  Profile& profile_;
  bool matvecTiles_;  // products over several tokens through the matrix-vector kernels over token tiles
};

Session::Session(std::shared_ptr<ModelWeights> model, uint32_t contextSize, uint32_t ubatch, KernelSet kernels,
                 const Tuning& tuning)
    : model_(std::move(model)), ctx_(model_->context()), ctxSize_(contextSize), ubatch_(ubatch) {
  kernels_ = chooseKernels(ctx_.info(), model_->hparams(), kernels, tuning, ubatch);
  const LlamaHParams& hp = model_->hparams();
  if (contextSize == 0 || contextSize > kMaxContext)
    throw NativeError("INVALID_ARGUMENT", "context size must be between 1 and " + std::to_string(kMaxContext));
  if (ubatch == 0) throw NativeError("INVALID_ARGUMENT", "ubatch must be at least 1");
  const uint64_t E = hp.nEmbd, KV = uint64_t(hp.nHeadKv) * hp.headDim, F = hp.nFf, T = ubatch;
  auto device = [&](uint64_t bytes) {
    deviceBytes_ += bytes;
    return Buffer(ctx_, bytes, kStorage, Buffer::Kind::DeviceLocal);
  };
  // Also a storage buffer: decodeChain's advance kernels move pos0 on between steps.
  params_ = Buffer(ctx_, sizeof(StepParams), VK_BUFFER_USAGE_UNIFORM_BUFFER_BIT | VK_BUFFER_USAGE_STORAGE_BUFFER_BIT,
                   Buffer::Kind::HostVisible);
  tokens_ = Buffer(ctx_, T * 4, VK_BUFFER_USAGE_STORAGE_BUFFER_BIT, Buffer::Kind::HostVisible);
  argmax_ = Buffer(ctx_, 16, VK_BUFFER_USAGE_STORAGE_BUFFER_BIT, Buffer::Kind::HostVisible);
  topk_ = Buffer(ctx_, kTopK * 8, VK_BUFFER_USAGE_STORAGE_BUFFER_BIT, Buffer::Kind::HostVisible);
  chain_ = Buffer(ctx_, (1 + kMaxChain) * 4, VK_BUFFER_USAGE_STORAGE_BUFFER_BIT, Buffer::Kind::HostVisible);
  samplerState_ = Buffer(ctx_, sizeof(Sampling), VK_BUFFER_USAGE_STORAGE_BUFFER_BIT, Buffer::Kind::HostVisible);
  // One more entry than positions: a chain's last draw is recorded after the context's last position.
  history_ = Buffer(ctx_, (uint64_t(contextSize) + 1) * 4, VK_BUFFER_USAGE_STORAGE_BUFFER_BIT, Buffer::Kind::HostVisible);
  // Logits rows are sized apart from the micro-batch: a prompt step computes its last token's row only,
  // and steps that want every token's row (Output::AllLogits) are cut to kLogitRows tokens, so a long
  // micro-batch (512 tokens on GPUs) costs activations, not 512 rows of 32,000 logits twice over.
  logitRows_ = std::min(ubatch, kLogitRows);
  logitsHost_ = Buffer(ctx_, uint64_t(logitRows_) * hp.nVocab * 4, VK_BUFFER_USAGE_TRANSFER_DST_BIT, Buffer::Kind::HostVisible);
  x_ = device(T * E * 4);
  xn_ = device(T * E * 4);
  attn_ = device(T * E * 4);
  // q, k, v in one buffer and gate, up in another, each region starting at a multiple of 256 bytes: Vulkan
  // requires every device's minStorageBufferOffsetAlignment (a power of two) to be at most 256.
  const auto aligned = [](uint64_t bytes) { return (bytes + 255) / 256 * 256; };
  const uint64_t qBytes = T * E * 4, kvBytes = T * KV * 4, ffBytes = T * F * 4;
  qkv_ = device(aligned(qBytes) + aligned(kvBytes) + kvBytes);
  q_ = BufferView(qkv_, 0, qBytes);
  k_ = BufferView(qkv_, aligned(qBytes), kvBytes);
  v_ = BufferView(qkv_, aligned(qBytes) + aligned(kvBytes), kvBytes);
  gateUp_ = device(aligned(ffBytes) + ffBytes);
  gate_ = BufferView(gateUp_, 0, ffBytes);
  up_ = BufferView(gateUp_, aligned(ffBytes), ffBytes);
  logits_ = device(uint64_t(logitRows_) * hp.nVocab * 4);
  kCache_ = device(uint64_t(hp.nLayer) * ctxSize_ * KV * 2);
  vCache_ = device(uint64_t(hp.nLayer) * ctxSize_ * KV * 2);

  // GPU decode attention runs one workgroup per (pack of query heads sharing a KV head, chunk of keys);
  // the last chunk of a pack to finish combines the partials (native/shaders/attention_decode.comp).
  // PARLEY_ATTN_CHUNK (keys per chunk, 1..256, default 64) and PARLEY_ATTN_HEADS (query heads per pack, 1..8
  // and a divisor of the GQA group, default the largest such) override them for tests and tuning.
  const uint32_t group = hp.nHead / hp.nHeadKv;
  uint32_t packHeads = std::min(group, 8u);
  while (group % packHeads != 0) --packHeads;
  attnChunk_ = envUint("PARLEY_ATTN_CHUNK", 1, 256, attnChunk_);
  attnHeadsPerWg_ = envUint("PARLEY_ATTN_HEADS", 1, 8, packHeads);
  if (group % attnHeadsPerWg_ != 0)
    throw NativeError("INVALID_ARGUMENT", "PARLEY_ATTN_HEADS must divide the " + std::to_string(group) +
                                              " query heads per KV head, got " + std::to_string(attnHeadsPerWg_));
  if (kernels_.matvecDecode) {
    const uint64_t chunks = ceilDiv(ctxSize_, attnChunk_);
    attnPartials_ = device(uint64_t(hp.nHead) * chunks * (hp.headDim / 2 + 1) * 8);  // (m, l) + acc pairs, as vec2
    attnCounters_ = device(uint64_t(hp.nHead) * 4);
    // Decode's LM head argmax (matvec.comp's ARGMAX): a counter and a pad word, then one (logit, row) candidate
    // per workgroup of the product's grid.
    const uint32_t rowsPerWg = std::max(1u, 256u / std::max(1u, ctx_.info().subgroupSize)) * kernels_.matvecRows;
    const uint32_t groups = ceilDiv(hp.nVocab, rowsPerWg);
    if (kernels_.fusedArgmax) argmaxCandidates_ = device(8 + 8 * uint64_t(std::min(groups, kMaxGroups)) * ceilDiv(groups, kMaxGroups));
    const std::vector<uint32_t> zeros(std::max(hp.nHead, 2u), 0);  // the kernels leave their counters 0 after every dispatch
    Uploader up(ctx_, hp.nHead * 4 + 8);
    up.upload(attnCounters_.handle(), 0, zeros.data(), hp.nHead * 4);
    if (kernels_.fusedArgmax) up.upload(argmaxCandidates_.handle(), 0, zeros.data(), 8);
    up.flush();
  }

  // The topk kernel's slices: ~1,000 logits each on GPUs (32 for Llama's vocabulary), so each level of its
  // selection is short; one on CPU drivers, where each workgroup's ~100 barriers cost more than the passes.
  topkGroups_ = ctx_.info().type == "cpu" ? 1 : std::min(32u, ceilDiv(hp.nVocab, 1000));
  topkGroups_ = envUint("PARLEY_TOPK_GROUPS", 1, 64, topkGroups_);
  topkCandidates_ = device(8 + uint64_t(topkGroups_) * kTopK * 8);
  {
    const uint32_t zeros[2] = {0, 0};  // the kernel leaves its counter 0 after every dispatch
    Uploader up(ctx_, 8);
    up.upload(topkCandidates_.handle(), 0, zeros, 8);
    up.flush();
  }

  // RoPE cos/sin for every position, in double precision: exact even at large positions.
  rope_ = device(uint64_t(ctxSize_) * (hp.ropeDim / 2) * 8);
  {
    std::vector<float> table(size_t(ctxSize_) * (hp.ropeDim / 2) * 2);
    for (uint32_t p = 0; p < ctxSize_; ++p)
      for (uint32_t i = 0; i < hp.ropeDim / 2; ++i) {
        double theta = double(p) * std::pow(double(hp.ropeBase), -2.0 * i / double(hp.ropeDim));
        table[(size_t(p) * (hp.ropeDim / 2) + i) * 2] = float(std::cos(theta));
        table[(size_t(p) * (hp.ropeDim / 2) + i) * 2 + 1] = float(std::sin(theta));
      }
    Uploader up(ctx_, std::max<uint64_t>(table.size() * 4, 4));
    up.upload(rope_.handle(), 0, table.data(), table.size() * 4);
    up.flush();
  }

  // From here on the session owns raw Vulkan objects: if anything below throws (a pipeline that fails to
  // build, an exhausted pool), release them before the exception leaves the constructor.
  try {
    VkDevice dev = ctx_.device();
    const uint32_t maxSets = 3 * (hp.nLayer * 16 + 16);
    VkDescriptorPoolSize sizes[2] = {{VK_DESCRIPTOR_TYPE_UNIFORM_BUFFER, maxSets}, {VK_DESCRIPTOR_TYPE_STORAGE_BUFFER, maxSets * 6}};
    VkDescriptorPoolCreateInfo dpi{VK_STRUCTURE_TYPE_DESCRIPTOR_POOL_CREATE_INFO};
    dpi.maxSets = maxSets;
    dpi.poolSizeCount = 2;
    dpi.pPoolSizes = sizes;
    VK_CHECK(vkCreateDescriptorPool(dev, &dpi, nullptr, &descriptorPool_));
    VkCommandPoolCreateInfo cpi{VK_STRUCTURE_TYPE_COMMAND_POOL_CREATE_INFO};
    cpi.flags = VK_COMMAND_POOL_CREATE_RESET_COMMAND_BUFFER_BIT;
    cpi.queueFamilyIndex = ctx_.queueFamily();
    VK_CHECK(vkCreateCommandPool(dev, &cpi, nullptr, &commandPool_));
    VkCommandBuffer cmds[8];
    VkCommandBufferAllocateInfo ai{VK_STRUCTURE_TYPE_COMMAND_BUFFER_ALLOCATE_INFO};
    ai.commandPool = commandPool_;
    ai.level = VK_COMMAND_BUFFER_LEVEL_PRIMARY;
    ai.commandBufferCount = 8;
    VK_CHECK(vkAllocateCommandBuffers(dev, &ai, cmds));
    decodeCmd_ = cmds[0];
    prefillCmd_ = cmds[1];
    copyCmd_ = cmds[2];
    topkCmd_ = cmds[3];
    advanceCmd_ = cmds[4];
    shortPrefillCmd_ = cmds[5];
    sampleAdvanceCmd_ = cmds[6];
    embedCmd_ = cmds[7];
    VkFenceCreateInfo fci{VK_STRUCTURE_TYPE_FENCE_CREATE_INFO};
    VK_CHECK(vkCreateFence(dev, &fci, nullptr, &fence_));

    const char* profileEnv = std::getenv("PARLEY_PROFILE");
    profiling_ = profileEnv && std::string(profileEnv) == "1";
    if (profiling_) {
      VkQueryPoolCreateInfo qpi{VK_STRUCTURE_TYPE_QUERY_POOL_CREATE_INFO};
      qpi.queryType = VK_QUERY_TYPE_TIMESTAMP;
      qpi.queryCount = kMaxTimestamps;
      VK_CHECK(vkCreateQueryPool(dev, &qpi, nullptr, &decodeProfile_.pool));
      VK_CHECK(vkCreateQueryPool(dev, &qpi, nullptr, &prefillProfile_.pool));
    }
    // Every pipeline the recordings use, built at once on the CPU's cores (a first launch compiles each one;
    // PARLEY_PIPELINE_THREADS=1 builds them one after another), then the recordings themselves.
    std::vector<std::string> names;
    collecting_ = &names;
    recordAll();
    collecting_ = nullptr;
    const uint32_t threads = envUint("PARLEY_PIPELINE_THREADS", 1, 64, std::max(1u, std::min(16u, std::thread::hardware_concurrency())));
    ctx_.prepareKernels(names, threads);
    pipelineCount_ = uint32_t(std::set<std::string>(names.begin(), names.end()).size());
    decodePlan_ = prefillPlan_ = Plan{};
    recordAll();
  } catch (...) {
    collecting_ = nullptr;
    releaseVulkanObjects();
    throw;
  }
}

void Session::recordAll() {
  recordForward(decodeCmd_, 1, false, decodePlan_, decodeProfile_);
  recordForward(prefillCmd_, ubatch_, true, prefillPlan_, prefillProfile_);
  if (kernels_.shortPrefill) {
    const bool profiling = profiling_;  // profiles cover the decode and the full prefill recordings
    profiling_ = false;
    Plan unused;
    Profile noProfile;
    recordForward(shortPrefillCmd_, KernelChoice::kShortPrefill, true, unused, noProfile, true);
    profiling_ = profiling;
  }
  recordEmbed(embedCmd_);
  recordTopK();
  recordAdvance(advanceCmd_, Advance::Greedy, greedyAdvancePlan_);
  recordAdvance(sampleAdvanceCmd_, Advance::Sample, sampleAdvancePlan_);
}

void Session::beginRecording(VkCommandBuffer cmd, VkCommandBufferUsageFlags flags) {
  if (collecting_) return;
  VkCommandBufferBeginInfo bi{VK_STRUCTURE_TYPE_COMMAND_BUFFER_BEGIN_INFO};
  bi.flags = flags;
  VK_CHECK(vkBeginCommandBuffer(cmd, &bi));
}

void Session::endRecording(VkCommandBuffer cmd) {
  if (!collecting_) VK_CHECK(vkEndCommandBuffer(cmd));
}

void Session::memoryBarrier(VkCommandBuffer cmd, VkPipelineStageFlags srcStages, VkAccessFlags srcAccess, VkPipelineStageFlags dstStages,
                            VkAccessFlags dstAccess) {
  if (collecting_) return;
  VkMemoryBarrier mb{VK_STRUCTURE_TYPE_MEMORY_BARRIER};
  mb.srcAccessMask = srcAccess;
  mb.dstAccessMask = dstAccess;
  vkCmdPipelineBarrier(cmd, srcStages, dstStages, 0, 1, &mb, 0, nullptr, 0, nullptr);
}

// Records into `cmd` with the per-dispatch timestamps off: profiles cover the decode and prefill recordings.
template <typename Body>
void Session::recordUnprofiled(VkCommandBuffer cmd, Plan& plan, Body&& body) {
  const bool profiling = profiling_;
  profiling_ = false;
  Profile noProfile;
  try {
    Recorder r(*this, cmd, 1, plan, noProfile);
    body(r);
  } catch (...) {
    profiling_ = profiling;
    throw;
  }
  profiling_ = profiling;
}

// decodeChain's step between two decode replays: the greedy advance (decode_advance_*: the step's argmax becomes
// the next input) or the sampled one (topk_sample_*: penalties, top 64, a draw from them), each embedding the
// token it chose into x for the next replay, which therefore starts at the first layer. Each command buffer
// appears n times in one submission, hence SIMULTANEOUS_USE (decodeCmd_ is recorded with it too).
void Session::recordAdvance(VkCommandBuffer cmd, Advance mode, Plan& plan) {
  beginRecording(cmd, VK_COMMAND_BUFFER_USAGE_SIMULTANEOUS_USE_BIT);
  // The decode step's results (and everything else it wrote or read) before these kernels read the
  // argmax or logits and overwrite x, the token id and the step parameters the step read.
  memoryBarrier(cmd, VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT, VK_ACCESS_SHADER_WRITE_BIT, VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT,
                VK_ACCESS_SHADER_READ_BIT | VK_ACCESS_SHADER_WRITE_BIT);
  plan = Plan{};
  recordUnprofiled(cmd, plan, [&](Recorder& r) {
    const LlamaHParams& hp = model_->hparams();
    const WeightMatrix& embd = model_->tokenEmbd;
    if (mode == Advance::Sample) {
      struct { uint32_t nVocab, slice, capacity, K, scaleOffset; } pc{hp.nVocab, ceilDiv(hp.nVocab, topkGroups_), kMaxChain, hp.nEmbd,
                                                                      embd.scaleOffsetWords};
      r.dispatch("topk_sample_" + embd.kernelSuffix(),
                 {logits_, topk_, topkCandidates_, params_, chain_, samplerState_, history_, embd.buffer, x_}, pc,
                 ceilDiv(hp.nVocab, pc.slice));
    } else {
      struct { uint32_t nVocab, capacity, K, scaleOffset; } pc{hp.nVocab, kMaxChain, hp.nEmbd, embd.scaleOffsetWords};
      r.dispatch("decode_advance_" + embd.kernelSuffix(), {params_, argmax_, chain_, embd.buffer, x_}, pc, 1);
    }
  });
  // The next decode step reads x (storage) and the step parameters (uniform), and writes what this step's
  // kernels read; the host reads the chain output and sampler state after the fence.
  memoryBarrier(cmd, VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT, VK_ACCESS_SHADER_WRITE_BIT,
                VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT | VK_PIPELINE_STAGE_HOST_BIT,
                VK_ACCESS_SHADER_READ_BIT | VK_ACCESS_SHADER_WRITE_BIT | VK_ACCESS_UNIFORM_READ_BIT | VK_ACCESS_HOST_READ_BIT);
  endRecording(cmd);
}

// A decode step's token embedding (the token id the host wrote), first in its submission and followed by
// decodeCmd_. Like the prompt recordings, which also start with the embedding, it needs no barrier before it:
// the host waited for this session's previous submission (another session's work, on the same queue, touches
// none of these buffers and is not waited for).
void Session::recordEmbed(VkCommandBuffer cmd) {
  beginRecording(cmd, 0);
  embedPlan_ = Plan{};
  recordUnprofiled(cmd, embedPlan_, [&](Recorder& r) {
    const LlamaHParams& hp = model_->hparams();
    struct { uint32_t K, nVocab, scaleOffset; } pc{hp.nEmbd, hp.nVocab, model_->tokenEmbd.scaleOffsetWords};
    r.dispatch("embed_" + model_->tokenEmbd.kernelSuffix(), {model_->tokenEmbd.buffer, tokens_, x_}, pc, 1);
    r.barrier();
  });
  endRecording(cmd);
}

// Submitted after a forward pass when the sampler wants the top candidates rather than all logits.
void Session::recordTopK() {
  beginRecording(topkCmd_, 0);
  // The forward pass's logits before topk reads them: its recording ends with a barrier towards the host and
  // transfers only, and without this one a GPU may start topk while the LM head still writes.
  memoryBarrier(topkCmd_, VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT, VK_ACCESS_SHADER_WRITE_BIT, VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT,
                VK_ACCESS_SHADER_READ_BIT | VK_ACCESS_SHADER_WRITE_BIT);
  Plan unused;
  recordUnprofiled(topkCmd_, unused, [&](Recorder& r) {
    // topkGroups_ workgroups each select the top 64 of their slice of the logits row, and the last to finish
    // selects among their candidates (native/shaders/topk.comp).
    const uint32_t nVocab = model_->hparams().nVocab;
    struct { uint32_t nVocab, slice; } pc{nVocab, ceilDiv(nVocab, topkGroups_)};
    r.dispatch("topk", {logits_, topk_, topkCandidates_}, pc, ceilDiv(nVocab, pc.slice));
  });
  memoryBarrier(topkCmd_, VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT, VK_ACCESS_SHADER_WRITE_BIT, VK_PIPELINE_STAGE_HOST_BIT, VK_ACCESS_HOST_READ_BIT);
  endRecording(topkCmd_);
}

Session::~Session() { releaseVulkanObjects(); }

const BufferView& Session::activation(Activation a) const {
  switch (a) {
    case Activation::Q: return q_;
    case Activation::K: return k_;
    case Activation::V: return v_;
    case Activation::Gate: return gate_;
    case Activation::Up: return up_;
  }
  throw NativeError("VULKAN", "unknown activation");
}

void Session::releaseVulkanObjects() {
  VkDevice dev = ctx_.device();
  // eval() waits for its own submissions, so nothing of this session is in flight here.
  if (fence_) vkDestroyFence(dev, fence_, nullptr);
  if (commandPool_) vkDestroyCommandPool(dev, commandPool_, nullptr);
  if (decodeProfile_.pool) vkDestroyQueryPool(dev, decodeProfile_.pool, nullptr);
  if (prefillProfile_.pool) vkDestroyQueryPool(dev, prefillProfile_.pool, nullptr);
  if (descriptorPool_) vkDestroyDescriptorPool(dev, descriptorPool_, nullptr);
  fence_ = VK_NULL_HANDLE;
  commandPool_ = VK_NULL_HANDLE;
  decodeProfile_.pool = prefillProfile_.pool = VK_NULL_HANDLE;
  descriptorPool_ = VK_NULL_HANDLE;
}

// The whole Llama forward pass, top to bottom. `capacity` is how many tokens the grid covers; the
// actual count comes from the step parameters, so the same recording serves every step.
void Session::recordForward(VkCommandBuffer cmd, uint32_t capacity, bool embed, Plan& plan, Profile& profile, bool matvecTiles) {
  const ModelWeights& m = *model_;
  const LlamaHParams& hp = m.hparams();
  const uint32_t kvPairs = hp.nHeadKv * hp.headDim / 2;
  // decodeChain submits the decode step several times in one batch.
  beginRecording(cmd, cmd == decodeCmd_ ? VK_COMMAND_BUFFER_USAGE_SIMULTANEOUS_USE_BIT : 0);
  if (profiling_ && !collecting_) vkCmdResetQueryPool(cmd, profile.pool, 0, kMaxTimestamps);
  Recorder r(*this, cmd, capacity, plan, profile, matvecTiles);

  // Token embeddings: x = token_embd[tokens] (a decode step finds its token's in x already).
  if (embed) {
    struct { uint32_t K, nVocab, scaleOffset; } embedPc{hp.nEmbd, hp.nVocab, m.tokenEmbd.scaleOffsetWords};
    r.dispatch("embed_" + m.tokenEmbd.kernelSuffix(), {m.tokenEmbd.buffer, tokens_, x_}, embedPc, capacity);
    r.barrier();
  }

  // Decode on GPUs fuses each RMSNorm into the matrix-vector products that read it; otherwise the
  // step normalizes once into xn_ and runs the tiled kernels.
  const bool decode = capacity == 1 && kernels_.matvecDecode;
  auto normedProduct = [&](const WeightMatrix& w, const Buffer& normWeight, const Recorder::Outs& y, bool logitsOnly) {
    const BufferView norm(normWeight);
    if (decode) r.matvec(w, x_, y, false, Recorder::XMode::RmsNorm, &norm);
    else r.matmul(w, xn_, y, false, logitsOnly);
  };
  // A layer's products from the normalized x (q, k, v; gate, up): one dispatch per stacked matrix.
  auto normedProducts = [&](const std::vector<Product>& products, const Buffer& normWeight) {
    for (const Product& p : products) {
      Recorder::Outs y;
      for (const Product::Output& o : p.outputs) y.push_back({activation(o.activation), o.rows});
      normedProduct(p.w, normWeight, y, false);
    }
  };
  auto residualProduct = [&](const WeightMatrix& w, const BufferView& in) {
    if (decode) r.matvec(w, in, {{x_, hp.nEmbd}}, true, Recorder::XMode::Plain, nullptr);
    else r.matmul(w, in, {{x_, hp.nEmbd}}, true, false);
  };

  for (uint32_t l = 0; l < hp.nLayer; ++l) {
    const LayerWeights& w = m.layers[l];
    const uint32_t cacheOffset = l * ctxSize_ * kvPairs;

    // Attention block: x += Wo · attention(rope(Wq·n(x)), rope(Wk·n(x)), Wv·n(x)).
    if (!decode) {
      r.rmsnorm(x_, w.attnNorm, xn_, capacity, false);
      r.barrier();
    }
    normedProducts(w.qkv, w.attnNorm);
    r.barrier();
    const float attnScale = float(1.0 / std::sqrt(double(hp.headDim)));
    if (decode) {
      // RoPE, the KV-cache store and the combine of the key chunks happen inside the attention dispatch.
      struct { uint32_t nHead, nHeadKv, headDim, cacheOffset; float scale; uint32_t ropeDim, chunk, headsPerWg; } decodePc{
          hp.nHead, hp.nHeadKv, hp.headDim, cacheOffset, attnScale, hp.ropeDim, attnChunk_, attnHeadsPerWg_};
      r.dispatch("attention_decode", {q_, kCache_, vCache_, attn_, k_, v_, rope_, attnPartials_, attnCounters_},
                 decodePc, hp.nHead / attnHeadsPerWg_, ceilDiv(ctxSize_, attnChunk_));
    } else {
      struct { uint32_t nHead, nHeadKv, headDim, ropeDim, cacheOffset; } ropePc{hp.nHead, hp.nHeadKv, hp.headDim, hp.ropeDim,
                                                                                cacheOffset};
      r.dispatch("rope_kv", {q_, k_, v_, rope_, kCache_, vCache_}, ropePc, capacity);
      r.barrier();
      struct { uint32_t nHead, nHeadKv, headDim, cacheOffset; float scale; } attnPc{hp.nHead, hp.nHeadKv, hp.headDim,
                                                                                  cacheOffset, attnScale};
      if (capacity > 1 && kernels_.prefillFlashAttention) {
        // 64 (token, head) rows of one KV head per workgroup, the head size as specialization constant 0.
        const uint32_t rows = capacity * (hp.nHead / hp.nHeadKv);
        r.dispatch("attention_prefill#" + std::to_string(hp.headDim), {q_, kCache_, vCache_, attn_}, attnPc, ceilDiv(rows, 64), hp.nHeadKv);
      } else {
        r.dispatch("attention", {q_, kCache_, vCache_, attn_}, attnPc, hp.nHead, capacity);
      }
    }
    r.barrier();
    residualProduct(w.o, attn_);
    r.barrier();

    // Feed-forward block: x += Wdown · (silu(Wgate·n(x)) * Wup·n(x)).
    if (!decode) {
      r.rmsnorm(x_, w.ffnNorm, xn_, capacity, false);
      r.barrier();
    }
    // Decode with gate and up stacked: their product writes silu(gate)·up (into gate_), which the down product
    // reads as it is. Otherwise the down product computes SwiGLU as it reads gate and up (once per row it owns).
    const bool swigluPairs = decode && kernels_.swigluPairs && w.gateUp.size() == 1;
    if (swigluPairs) {
      const BufferView norm(w.ffnNorm);
      r.matvec(w.gateUp[0].w, x_, {{gate_, hp.nFf}}, false, Recorder::XMode::RmsNorm, &norm, false, true);
    } else {
      normedProducts(w.gateUp, w.ffnNorm);
    }
    r.barrier();
    if (swigluPairs) {
      r.matvec(w.down, gate_, {{x_, hp.nEmbd}}, true, Recorder::XMode::Plain, nullptr);
    } else if (decode) {
      r.matvec(w.down, gate_, {{x_, hp.nEmbd}}, true, Recorder::XMode::SwiGlu, &up_);
    } else {
      struct { uint32_t nFf; } siluPc{hp.nFf};
      const uint32_t siluGroups = ceilDiv(uint64_t(capacity) * hp.nFf, 256);
      r.dispatch("silu_mul", {gate_, up_}, siluPc, std::min(siluGroups, kMaxGroups), ceilDiv(siluGroups, kMaxGroups));
      r.barrier();
      residualProduct(w.down, gate_);
    }
    r.barrier();
  }

  // Final norm and LM head, only for the tokens whose logits are wanted; then greedy argmax.
  if (!decode) {
    r.rmsnorm(x_, m.outputNorm, xn_, capacity, true);
    r.barrier();
  }
  if (decode && kernels_.fusedArgmax) {
    // The LM head product finds the greedy token itself: no argmax dispatch, no barrier before it.
    const BufferView norm(m.outputNorm);
    r.matvec(m.output, x_, {{logits_, hp.nVocab}}, false, Recorder::XMode::RmsNorm, &norm, true);
  } else {
    normedProduct(m.output, m.outputNorm, {{logits_, hp.nVocab}}, true);
    r.barrier();
    struct { uint32_t nVocab; } argmaxPc{hp.nVocab};
    r.dispatch("argmax", {logits_, argmax_}, argmaxPc, 1);
  }

  // The host reads the argmax result; a later copy command may read the logits.
  memoryBarrier(cmd, VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT, VK_ACCESS_SHADER_WRITE_BIT, VK_PIPELINE_STAGE_HOST_BIT | VK_PIPELINE_STAGE_TRANSFER_BIT,
                VK_ACCESS_HOST_READ_BIT | VK_ACCESS_TRANSFER_READ_BIT);
  endRecording(cmd);
}

Session::Result Session::eval(const std::vector<int32_t>& tokens, uint32_t pos, Output output) {
  const LlamaHParams& hp = model_->hparams();
  const uint32_t n = uint32_t(tokens.size());
  if (n == 0) throw NativeError("INVALID_ARGUMENT", "eval needs at least one token");
  if (uint64_t(pos) + n > ctxSize_)
    throw NativeError("CONTEXT_OVERFLOW", "positions " + std::to_string(pos) + ".." + std::to_string(pos + n - 1) +
                                              " do not fit the session's context of " + std::to_string(ctxSize_) + " tokens");
  for (int32_t t : tokens)
    if (t < 0 || uint32_t(t) >= hp.nVocab)
      throw NativeError("INVALID_ARGUMENT", "token id " + std::to_string(t) + " is outside the vocabulary (0.." +
                                                std::to_string(hp.nVocab - 1) + ")");
  Result result;
  VkDevice dev = ctx_.device();
  const uint32_t stepTokens = output == Output::AllLogits ? logitRows_ : ubatch_;
  for (uint32_t c = 0; c < n; c += stepTokens) {
    const uint32_t m = std::min(stepTokens, n - c);
    const bool last = c + m == n;
    const bool wantLogits = output == Output::AllLogits || (output == Output::LastLogits && last);
    const bool wantTopK = output == Output::TopK && last;
    StepParams p{m, pos + c, output == Output::AllLogits ? 0u : m - 1, 0};
    std::memcpy(params_.mapped(), &p, sizeof p);
    std::memcpy(tokens_.mapped(), tokens.data() + c, m * 4);

    std::vector<VkCommandBuffer> cmds;
    if (m == 1) cmds = {embedCmd_, decodeCmd_};
    else cmds = {kernels_.shortPrefill && m <= KernelChoice::kShortPrefill ? shortPrefillCmd_ : prefillCmd_};
    const uint32_t rows = output == Output::AllLogits ? m : 1;
    if (wantLogits) {
      VK_CHECK(vkResetCommandBuffer(copyCmd_, 0));
      VkCommandBufferBeginInfo bi{VK_STRUCTURE_TYPE_COMMAND_BUFFER_BEGIN_INFO};
      bi.flags = VK_COMMAND_BUFFER_USAGE_ONE_TIME_SUBMIT_BIT;
      VK_CHECK(vkBeginCommandBuffer(copyCmd_, &bi));
      VkBufferCopy region{0, 0, uint64_t(rows) * hp.nVocab * 4};
      vkCmdCopyBuffer(copyCmd_, logits_.handle(), logitsHost_.handle(), 1, &region);
      VkMemoryBarrier mb{VK_STRUCTURE_TYPE_MEMORY_BARRIER};
      mb.srcAccessMask = VK_ACCESS_TRANSFER_WRITE_BIT;
      mb.dstAccessMask = VK_ACCESS_HOST_READ_BIT;
      vkCmdPipelineBarrier(copyCmd_, VK_PIPELINE_STAGE_TRANSFER_BIT, VK_PIPELINE_STAGE_HOST_BIT, 0, 1, &mb, 0, nullptr, 0,
                           nullptr);
      VK_CHECK(vkEndCommandBuffer(copyCmd_));
      cmds.push_back(copyCmd_);
    }
    if (wantTopK) cmds.push_back(topkCmd_);
    VkSubmitInfo si{VK_STRUCTURE_TYPE_SUBMIT_INFO};
    si.commandBufferCount = uint32_t(cmds.size());
    si.pCommandBuffers = cmds.data();
    ctx_.submit(si, fence_);
    submits_++;
    VK_CHECK(vkWaitForFences(dev, 1, &fence_, VK_TRUE, UINT64_MAX));
    VK_CHECK(vkResetFences(dev, 1, &fence_));
    if (profiling_ && !(kernels_.shortPrefill && m > 1 && m <= KernelChoice::kShortPrefill)) printProfile(m == 1 ? decodeProfile_ : prefillProfile_);
    if (wantLogits) {
      const float* src = static_cast<const float*>(logitsHost_.mapped());
      result.logits.insert(result.logits.end(), src, src + size_t(rows) * hp.nVocab);
      result.rows += rows;
    }
  }
  result.argmax = static_cast<const int32_t*>(argmax_.mapped())[0];
  if (output == Output::TopK) {
    const uint32_t k = std::min(kTopK, hp.nVocab);
    const int32_t* ids = static_cast<const int32_t*>(topk_.mapped());
    const float* values = reinterpret_cast<const float*>(ids + kTopK);
    result.topIds.assign(ids, ids + k);
    result.topLogits.assign(values, values + k);
  }
  return result;
}

std::vector<int32_t> Session::decodeChain(int32_t first, uint32_t pos, uint32_t n, Sampling* sampling,
                                          const std::vector<int32_t>& window) {
  const LlamaHParams& hp = model_->hparams();
  if (n == 0 || n > kMaxChain)
    throw NativeError("INVALID_ARGUMENT", "decodeChain evaluates 1.." + std::to_string(kMaxChain) + " tokens, got " + std::to_string(n));
  if (uint64_t(pos) + n > ctxSize_)
    throw NativeError("CONTEXT_OVERFLOW", "positions " + std::to_string(pos) + ".." + std::to_string(uint64_t(pos) + n - 1) +
                                              " do not fit the session's context of " + std::to_string(ctxSize_) + " tokens");
  if (first < 0 || uint32_t(first) >= hp.nVocab)
    throw NativeError("INVALID_ARGUMENT", "token id " + std::to_string(first) + " is outside the vocabulary (0.." +
                                              std::to_string(hp.nVocab - 1) + ")");
  if (sampling) {
    checkChainSampling(*sampling, hp.nVocab, pos, window.size());
    uint32_t* history = static_cast<uint32_t*>(history_.mapped());
    for (size_t i = 0; i < window.size(); ++i) history[pos - window.size() + i] = uint32_t(window[i]);
    history[pos] = uint32_t(first);
    std::memcpy(samplerState_.mapped(), sampling, sizeof(Sampling));
  }
  // The first step's inputs come from the host, as for eval; the advance kernel writes the later ones.
  StepParams p{1, pos, 0, 0};
  std::memcpy(params_.mapped(), &p, sizeof p);
  std::memcpy(tokens_.mapped(), &first, 4);
  uint32_t* chain = static_cast<uint32_t*>(chain_.mapped());
  chain[0] = 0;
  // The first token's embedding, then n × (a decode step, the advance that embeds the next token).
  std::vector<VkCommandBuffer> cmds{embedCmd_};
  cmds.reserve(1 + 2 * n);
  for (uint32_t i = 0; i < n; ++i) {
    cmds.push_back(decodeCmd_);
    cmds.push_back(sampling ? sampleAdvanceCmd_ : advanceCmd_);
  }
  VkSubmitInfo si{VK_STRUCTURE_TYPE_SUBMIT_INFO};
  si.commandBufferCount = uint32_t(cmds.size());
  si.pCommandBuffers = cmds.data();
  VkDevice dev = ctx_.device();
  ctx_.submit(si, fence_);
  submits_++;
  VK_CHECK(vkWaitForFences(dev, 1, &fence_, VK_TRUE, UINT64_MAX));
  VK_CHECK(vkResetFences(dev, 1, &fence_));
  if (profiling_) printProfile(decodeProfile_);  // the chain's last step
  if (chain[0] != n)
    throw NativeError("VULKAN", "decodeChain: the GPU advanced " + std::to_string(chain[0]) + " of " + std::to_string(n) + " steps");
  std::vector<int32_t> out(n);
  std::memcpy(out.data(), chain + 1, size_t(n) * 4);
  if (sampling) std::memcpy(sampling->rng, static_cast<const Sampling*>(samplerState_.mapped())->rng, sizeof(sampling->rng));
  return out;
}

void Session::printProfile(const Profile& p) {
  std::vector<uint64_t> ts(p.names.size() + 1);
  VK_CHECK(vkGetQueryPoolResults(ctx_.device(), p.pool, 0, uint32_t(ts.size()), ts.size() * 8, ts.data(), 8,
                                 VK_QUERY_RESULT_64_BIT | VK_QUERY_RESULT_WAIT_BIT));
  VkPhysicalDeviceProperties props;
  vkGetPhysicalDeviceProperties(ctx_.physicalDevice(), &props);
  const double nsPerTick = props.limits.timestampPeriod;
  std::map<std::string, std::pair<double, int>> perKernel;
  for (size_t i = 0; i < p.names.size(); ++i) {
    auto& e = perKernel[p.names[i]];
    e.first += double(ts[i + 1] - ts[i]) * nsPerTick / 1e6;
    e.second++;
  }
  std::string out = "[parley profile] total " + std::to_string(double(ts.back() - ts[0]) * nsPerTick / 1e6) + " ms:";
  for (auto& [name, e] : perKernel) out += " " + name + "=" + std::to_string(e.first) + "ms/" + std::to_string(e.second);
  if (std::getenv("PARLEY_PROFILE_ALL")) {
    for (size_t i = 0; i < p.names.size(); ++i)
      out += "\n  #" + std::to_string(i) + " " + p.names[i] + " " + std::to_string(double(ts[i + 1] - ts[i]) * nsPerTick / 1e3) + " us";
  }
  std::fprintf(stderr, "%s\n", out.c_str());
}
