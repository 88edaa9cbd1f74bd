#include "session.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <string>
#include <thread>
#include <unordered_set>

#include "forward_pass.h"
#include "llama_ops.h"
#include "vk_check.h"
#include "vk_context.h"

namespace {

constexpr uint32_t kMaxContext = 4096;  // attention keeps one head's scores in 16 KB of shared memory

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

void checkTokens(const std::vector<int32_t>& tokens, uint32_t nVocab) {
  for (int32_t t : tokens)
    if (t < 0 || uint32_t(t) >= nVocab)
      throw NativeError("INVALID_ARGUMENT",
                        "token id " + std::to_string(t) + " is outside the vocabulary (0.." + std::to_string(nVocab - 1) + ")");
}

void checkPositions(uint32_t pos, uint32_t n, uint32_t contextSize) {
  if (uint64_t(pos) + n > contextSize)
    throw NativeError("CONTEXT_OVERFLOW", "positions " + std::to_string(pos) + ".." + std::to_string(uint64_t(pos) + n - 1) +
                                              " do not fit the session's context of " + std::to_string(contextSize) + " tokens");
}

}  // namespace

Session::Session(std::shared_ptr<ModelWeights> model, uint32_t contextSize, uint32_t ubatch, KernelSet kernels, const Tuning& tuning,
                 const Overrides& overrides)
    : model_(std::move(model)), ctx_(model_->context()), ctxSize_(contextSize), ubatch_(ubatch) {
  kernels_ = chooseKernels(ctx_.info(), model_->hparams(), kernels, tuning, overrides.kernels, ubatch);
  const LlamaHParams& hp = model_->hparams();
  if (contextSize == 0 || contextSize > kMaxContext)
    throw NativeError("INVALID_ARGUMENT", "context size must be between 1 and " + std::to_string(kMaxContext));
  if (ubatch == 0) throw NativeError("INVALID_ARGUMENT", "ubatch must be at least 1");
  buffers_ = std::make_unique<SessionBuffers>(ctx_, hp, kernels_, contextSize, ubatch, sizeof(Sampling));

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

    if (overrides.profile) {
      decodeProfile_ = std::make_unique<Profile>(ctx_, overrides.profileEveryDispatch);
      prefillProfile_ = std::make_unique<Profile>(ctx_, overrides.profileEveryDispatch);
    }
    // Every pipeline the recordings use, built at once on the CPU's cores (a first launch compiles each one;
    // one pipeline thread builds them one after another), then the recordings themselves.
    std::vector<KernelKey> keys;
    recordAll(RecordingTarget{ctx_, descriptorPool_, buffers_->params, &keys});
    const uint32_t threads =
        overrides.pipelineThreads ? overrides.pipelineThreads : std::max(1u, std::min(16u, std::thread::hardware_concurrency()));
    ctx_.prepareKernels(keys, threads);
    pipelineCount_ = uint32_t(std::unordered_set<KernelKey, KernelKeyHash>(keys.begin(), keys.end()).size());
    recordAll(RecordingTarget{ctx_, descriptorPool_, buffers_->params, nullptr});
  } catch (...) {
    releaseVulkanObjects();
    throw;
  }
}

Session::~Session() {
  releaseVulkanObjects();
}

void Session::releaseVulkanObjects() {
  VkDevice dev = ctx_.device();
  // eval() waits for its own submissions, so nothing of this session is in flight here.
  if (fence_) vkDestroyFence(dev, fence_, nullptr);
  if (commandPool_) vkDestroyCommandPool(dev, commandPool_, nullptr);
  if (descriptorPool_) vkDestroyDescriptorPool(dev, descriptorPool_, nullptr);
  fence_ = VK_NULL_HANDLE;
  commandPool_ = VK_NULL_HANDLE;
  descriptorPool_ = VK_NULL_HANDLE;
}

void Session::recordAll(const RecordingTarget& target) {
  const ForwardPass f{*model_, kernels_, *buffers_, ctxSize_, ctx_.info().subgroupSize};
  // The forward pass's results before the host reads the argmax and a later copy command the logits.
  auto towardsHost = [](Recorder& r) {
    r.memoryBarrier(VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT, VK_ACCESS_SHADER_WRITE_BIT,
                    VK_PIPELINE_STAGE_HOST_BIT | VK_PIPELINE_STAGE_TRANSFER_BIT, VK_ACCESS_HOST_READ_BIT | VK_ACCESS_TRANSFER_READ_BIT);
  };

  // The decode step; decodeChain submits it several times in one batch.
  {
    Recorder r(target, decodeCmd_, decodePlan_, decodeProfile_.get());
    r.begin(VK_COMMAND_BUFFER_USAGE_SIMULTANEOUS_USE_BIT);
    recordDecodeStep(r, f);
    towardsHost(r);
    r.end();
  }
  // Prompt steps of up to ubatch tokens.
  {
    Recorder r(target, prefillCmd_, prefillPlan_, prefillProfile_.get());
    r.begin(0);
    recordPromptStep(r, f, ubatch_, kernels_.prefill);
    towardsHost(r);
    r.end();
  }
  // GPUs: steps of at most kShortPrefill tokens through the matrix-vector kernels over token tiles, which read
  // each weight once for the whole step, instead of the GEMM's 64-token tiles.
  if (kernels_.shortPrefill) {
    Plan unused;
    Recorder r(target, shortPrefillCmd_, unused);
    r.begin(0);
    recordPromptStep(r, f, KernelChoice::kShortPrefill, PrefillKernel::Matvec);
    towardsHost(r);
    r.end();
  }

  // A decode step's token embedding (the token id the host wrote), first in its submission and followed by
  // decodeCmd_. Like the prompt recordings, which also start with the embedding, it needs no barrier before it:
  // the host waited for this session's previous submission (another session's work, on the same queue, touches
  // none of these buffers and is not waited for).
  {
    Recorder r(target, embedCmd_, embedPlan_);
    r.begin(0);
    LlamaOps op(r, f);
    op.embed(buffers_->tokens, buffers_->x, 1);
    op.barrier();
    r.end();
  }

  // Submitted after a forward pass when the sampler wants the top candidates rather than all logits.
  {
    Plan unused;
    Recorder r(target, topkCmd_, unused);
    r.begin(0);
    // The forward pass's logits before topk reads them: its recording ends with a barrier towards the host and
    // transfers only, and without this one a GPU may start topk while the LM head still writes.
    r.memoryBarrier(VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT, VK_ACCESS_SHADER_WRITE_BIT, VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT,
                    VK_ACCESS_SHADER_READ_BIT | VK_ACCESS_SHADER_WRITE_BIT);
    LlamaOps(r, f).topk();
    r.memoryBarrier(VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT, VK_ACCESS_SHADER_WRITE_BIT, VK_PIPELINE_STAGE_HOST_BIT, VK_ACCESS_HOST_READ_BIT);
    r.end();
  }

  // decodeChain's step between two decode replays: the greedy advance (decode_advance_*: the step's argmax becomes
  // the next input) or the sampled one (topk_sample_*: penalties, top 64, a draw from them), each embedding the
  // token it chose into x for the next replay, which therefore starts at the first layer. Each command buffer
  // appears n times in one submission, hence SIMULTANEOUS_USE (decodeCmd_ is recorded with it too).
  for (const bool sampled : {false, true}) {
    Recorder r(target, sampled ? sampleAdvanceCmd_ : advanceCmd_, sampled ? sampleAdvancePlan_ : greedyAdvancePlan_);
    r.begin(VK_COMMAND_BUFFER_USAGE_SIMULTANEOUS_USE_BIT);
    // The decode step's results (and everything else it wrote or read) before these kernels read the
    // argmax or logits and overwrite x, the token id and the step parameters the step read.
    r.memoryBarrier(VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT, VK_ACCESS_SHADER_WRITE_BIT, VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT,
                    VK_ACCESS_SHADER_READ_BIT | VK_ACCESS_SHADER_WRITE_BIT);
    LlamaOps op(r, f);
    if (sampled)
      op.topkSample();
    else
      op.decodeAdvance();
    // The next decode step reads x (storage) and the step parameters (uniform), and writes what this step's
    // kernels read; the host reads the chain output and sampler state after the fence.
    r.memoryBarrier(VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT, VK_ACCESS_SHADER_WRITE_BIT,
                    VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT | VK_PIPELINE_STAGE_HOST_BIT,
                    VK_ACCESS_SHADER_READ_BIT | VK_ACCESS_SHADER_WRITE_BIT | VK_ACCESS_UNIFORM_READ_BIT | VK_ACCESS_HOST_READ_BIT);
    r.end();
  }
}

void Session::submitAndWait(const std::vector<VkCommandBuffer>& cmds) {
  VkSubmitInfo si{VK_STRUCTURE_TYPE_SUBMIT_INFO};
  si.commandBufferCount = uint32_t(cmds.size());
  si.pCommandBuffers = cmds.data();
  VkDevice dev = ctx_.device();
  ctx_.submit(si, fence_);
  submits_++;
  VK_CHECK(vkWaitForFences(dev, 1, &fence_, VK_TRUE, UINT64_MAX));
  VK_CHECK(vkResetFences(dev, 1, &fence_));
}

Session::Result Session::eval(const std::vector<int32_t>& tokens, uint32_t pos, Output output) {
  const LlamaHParams& hp = model_->hparams();
  const SessionBuffers& b = *buffers_;
  const uint32_t n = uint32_t(tokens.size());
  if (n == 0) throw NativeError("INVALID_ARGUMENT", "eval needs at least one token");
  checkPositions(pos, n, ctxSize_);
  checkTokens(tokens, hp.nVocab);
  Result result;
  const uint32_t stepTokens = output == Output::AllLogits ? b.logitRows : ubatch_;
  for (uint32_t c = 0; c < n; c += stepTokens) {
    const uint32_t m = std::min(stepTokens, n - c);
    const bool last = c + m == n;
    const bool wantLogits = output == Output::AllLogits || (output == Output::LastLogits && last);
    const bool wantTopK = output == Output::TopK && last;
    StepParams p{m, pos + c, output == Output::AllLogits ? 0u : m - 1, 0};
    std::memcpy(b.params.mapped(), &p, sizeof p);
    std::memcpy(b.tokens.mapped(), tokens.data() + c, m * 4);

    const bool shortStep = kernels_.shortPrefill && m > 1 && m <= KernelChoice::kShortPrefill;
    std::vector<VkCommandBuffer> cmds;
    if (m == 1)
      cmds = {embedCmd_, decodeCmd_};
    else
      cmds = {shortStep ? shortPrefillCmd_ : prefillCmd_};
    const uint32_t rows = output == Output::AllLogits ? m : 1;
    if (wantLogits) {
      VK_CHECK(vkResetCommandBuffer(copyCmd_, 0));
      VkCommandBufferBeginInfo bi{VK_STRUCTURE_TYPE_COMMAND_BUFFER_BEGIN_INFO};
      bi.flags = VK_COMMAND_BUFFER_USAGE_ONE_TIME_SUBMIT_BIT;
      VK_CHECK(vkBeginCommandBuffer(copyCmd_, &bi));
      VkBufferCopy region{0, 0, uint64_t(rows) * hp.nVocab * 4};
      vkCmdCopyBuffer(copyCmd_, b.logits.handle(), b.logitsHost.handle(), 1, &region);
      VkMemoryBarrier mb{VK_STRUCTURE_TYPE_MEMORY_BARRIER};
      mb.srcAccessMask = VK_ACCESS_TRANSFER_WRITE_BIT;
      mb.dstAccessMask = VK_ACCESS_HOST_READ_BIT;
      vkCmdPipelineBarrier(copyCmd_, VK_PIPELINE_STAGE_TRANSFER_BIT, VK_PIPELINE_STAGE_HOST_BIT, 0, 1, &mb, 0, nullptr, 0, nullptr);
      VK_CHECK(vkEndCommandBuffer(copyCmd_));
      cmds.push_back(copyCmd_);
    }
    if (wantTopK) cmds.push_back(topkCmd_);
    submitAndWait(cmds);
    // The short prompt steps' recording has no timestamps.
    if (!shortStep) {
      const Profile* profile = m == 1 ? decodeProfile_.get() : prefillProfile_.get();
      if (profile) profile->print();
    }
    if (wantLogits) {
      const float* src = static_cast<const float*>(b.logitsHost.mapped());
      result.logits.insert(result.logits.end(), src, src + size_t(rows) * hp.nVocab);
      result.rows += rows;
    }
  }
  result.argmax = static_cast<const int32_t*>(b.argmax.mapped())[0];
  if (output == Output::TopK) {
    const uint32_t k = std::min(kTopK, hp.nVocab);
    const int32_t* ids = static_cast<const int32_t*>(b.topk.mapped());
    const float* values = reinterpret_cast<const float*>(ids + kTopK);
    result.topIds.assign(ids, ids + k);
    result.topLogits.assign(values, values + k);
  }
  return result;
}

std::vector<int32_t> Session::decodeChain(int32_t first, uint32_t pos, uint32_t n, Sampling* sampling, const std::vector<int32_t>& window) {
  const LlamaHParams& hp = model_->hparams();
  const SessionBuffers& b = *buffers_;
  if (n == 0 || n > kMaxChain)
    throw NativeError("INVALID_ARGUMENT", "decodeChain evaluates 1.." + std::to_string(kMaxChain) + " tokens, got " + std::to_string(n));
  checkPositions(pos, n, ctxSize_);
  checkTokens({first}, hp.nVocab);
  if (sampling) {
    checkChainSampling(*sampling, hp.nVocab, pos, window.size());
    uint32_t* history = static_cast<uint32_t*>(b.history.mapped());
    for (size_t i = 0; i < window.size(); ++i) history[pos - window.size() + i] = uint32_t(window[i]);
    history[pos] = uint32_t(first);
    std::memcpy(b.samplerState.mapped(), sampling, sizeof(Sampling));
  }
  // The first step's inputs come from the host, as for eval; the advance kernel writes the later ones.
  StepParams p{1, pos, 0, 0};
  std::memcpy(b.params.mapped(), &p, sizeof p);
  std::memcpy(b.tokens.mapped(), &first, 4);
  uint32_t* chain = static_cast<uint32_t*>(b.chain.mapped());
  chain[0] = 0;
  // The first token's embedding, then n × (a decode step, the advance that embeds the next token).
  std::vector<VkCommandBuffer> cmds{embedCmd_};
  cmds.reserve(1 + 2 * n);
  for (uint32_t i = 0; i < n; ++i) {
    cmds.push_back(decodeCmd_);
    cmds.push_back(sampling ? sampleAdvanceCmd_ : advanceCmd_);
  }
  submitAndWait(cmds);
  if (decodeProfile_) decodeProfile_->print();  // the chain's last step
  if (chain[0] != n)
    throw NativeError("VULKAN", "decodeChain: the GPU advanced " + std::to_string(chain[0]) + " of " + std::to_string(n) + " steps");
  std::vector<int32_t> out(n);
  std::memcpy(out.data(), chain + 1, size_t(n) * 4);
  if (sampling) std::memcpy(sampling->rng, static_cast<const Sampling*>(b.samplerState.mapped())->rng, sizeof(sampling->rng));
  return out;
}
