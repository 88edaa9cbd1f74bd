// One conversation's state on the GPU: its buffers (KV cache, activations: session_buffers.h) and the forward
// pass recorded once into command buffers (decode: 1 token; prompt steps: up to `ubatch` tokens;
// forward_pass.h). Each eval only writes the step parameters and token ids into host-visible memory and
// submits recorded command buffers.
#pragma once
#include <vulkan/vulkan.h>
#include <atomic>
#include <cstdint>
#include <memory>
#include <vector>

#include "kernel_choice.h"
#include "model_weights.h"
#include "profile.h"
#include "recorder.h"
#include "session_buffers.h"

class Session {
 public:
  enum class Output { LastLogits = 0, AllLogits = 1, ArgmaxOnly = 2, TopK = 3 };
  static constexpr uint32_t kTopK = SessionBuffers::kTopK;  // candidates the topk kernel returns
  struct Result {
    std::vector<float> logits;  // rows × n_vocab (empty for ArgmaxOnly)
    uint32_t rows = 0;
    int32_t argmax = -1;          // greedy token after the last evaluated token
    std::vector<int32_t> topIds;  // TopK: the kTopK most likely next tokens (unordered)
    std::vector<float> topLogits;
  };
  using Plan = RecordPlan;  // per token, as recorded

  // Kernel sets and measured tunings: native/src/kernel_choice.h.
  using KernelSet = ::KernelSet;
  using Tuning = ::KernelTuning;
  // Settings for experiments, tests and the bench (addon.cpp reads them from the PARLEY_* environment).
  struct Overrides {
    KernelOverrides kernels;
    uint32_t pipelineThreads = 0;       // threads that build the pipelines at once; 0: the CPU's cores, at most 16
    bool profile = false;               // print the GPU time per kernel of every step (PARLEY_PROFILE=1)
    bool profileEveryDispatch = false;  // ... and of every dispatch (PARLEY_PROFILE_ALL)
  };
  Session(std::shared_ptr<ModelWeights> model, uint32_t contextSize, uint32_t ubatch, KernelSet kernels, const Tuning& tuning,
          const Overrides& overrides);
  ~Session();
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  // Evaluates tokens at positions [pos, pos+n). Blocks until the GPU is done: call off the JS thread.
  Result eval(const std::vector<int32_t>& tokens, uint32_t pos, Output output);
  // GPU-resident greedy loop: the same as n successive eval({t}, pos + i, ArgmaxOnly) calls that feed
  // each argmax back (evaluates `first` at pos, its argmax t1 at pos+1, ...; fills cache positions
  // pos..pos+n-1; returns t1..tn), in one queue submission and one fence wait. A decode_advance
  // dispatch between the decode replays appends the argmax to the chain output, moves the position on and
  // embeds the token for the next replay. n in 1..kMaxChain. Blocks until the GPU is done: call off the JS thread.
  //
  // With `sampling`, each step samples instead (the GPU-resident sampling loop): topk.comp's SAMPLE build
  // applies the repetition penalties, selects the 64 most likely tokens and draws from them with
  // runtime/sampler.ts's chain and random generator (sample_pick.glsl), starting from sampling->rng; on return
  // sampling->rng holds the state after the chain's draws, so the host sampler can continue the same stream.
  static constexpr uint32_t kMaxChain = SessionBuffers::kMaxChain;
  struct Sampling {     // mirrors SamplerState in native/shaders/sampler_state.glsl
    float temperature;  // > 0, or <= 0 for greedy decoding with penalties
    uint32_t topK;      // 1..kTopK-1 (any value when greedy)
    float topP;         // (0, 1]
    float minP;         // [0, 1]
    uint32_t rng[4];    // xoshiro128** state, not all zero
    float repeatPenalty, frequencyPenalty, presencePenalty;
    uint32_t penaltyWindow;  // 0: no penalties; else 1..kMaxPenaltyWindow (the last tokens they look at)
  };
  static constexpr uint32_t kMaxPenaltyWindow = 256;
  // `window`: with penalties, the history tokens at positions pos-window.size()..pos-1 (at least the
  // penalty window's worth, or all of them); `first` is the token at pos.
  std::vector<int32_t> decodeChain(int32_t first, uint32_t pos, uint32_t n, Sampling* sampling = nullptr,
                                   const std::vector<int32_t>& window = {});
  // Queue submissions (each one a host round trip: submit, fence wait) this session has made.
  uint64_t submits() const { return submits_.load(); }
  uint32_t contextSize() const { return ctxSize_; }
  // One decode step as eval() runs it (the embedding, then the recorded step).
  Plan decodePlan() const { return {embedPlan_.dispatches + decodePlan_.dispatches, embedPlan_.barriers + decodePlan_.barriers}; }
  // One token of decodeChain's loop: the recorded step, then the advance (which embeds the next token); the
  // barriers count the two between them.
  Plan chainPlan(bool sampled) const {
    const Plan& a = sampled ? sampleAdvancePlan_ : greedyAdvancePlan_;
    return {decodePlan_.dispatches + a.dispatches, decodePlan_.barriers + a.barriers + 2};
  }
  // Distinct kernels (pipelines: kernel and specialization constants) this session's recordings use.
  uint32_t pipelineCount() const { return pipelineCount_; }
  // The kernels and settings this session's recordings use (after defaults, tuning and environment).
  const KernelChoice& kernels() const { return kernels_; }
  uint64_t deviceBytes() const { return buffers_->deviceBytes; }

 private:
  // Records every command buffer (decode, prompt steps, short prompt steps, topk, the embedding, the chain
  // advances) for `target`: run twice at creation, first as a dry run that only lists the kernels, which are
  // then built in parallel.
  void recordAll(const RecordingTarget& target);
  // Waits for this session's one submission in flight.
  void submitAndWait(const std::vector<VkCommandBuffer>& cmds);
  void releaseVulkanObjects();  // the destructor's work; also run when the constructor fails part-way

  std::shared_ptr<ModelWeights> model_;  // first: destroyed last, it keeps the device alive
  VkContext& ctx_;
  uint32_t ctxSize_, ubatch_;
  KernelChoice kernels_;  // which kernels a step records, with which settings (kernel_choice.h)
  std::unique_ptr<SessionBuffers> buffers_;
  // Overrides::profile: per-dispatch timestamps of the decode and the full prompt step recordings.
  std::unique_ptr<Profile> decodeProfile_, prefillProfile_;

  VkDescriptorPool descriptorPool_ = VK_NULL_HANDLE;
  VkCommandPool commandPool_ = VK_NULL_HANDLE;
  VkCommandBuffer decodeCmd_ = VK_NULL_HANDLE, prefillCmd_ = VK_NULL_HANDLE, copyCmd_ = VK_NULL_HANDLE, topkCmd_ = VK_NULL_HANDLE,
                  shortPrefillCmd_ = VK_NULL_HANDLE;
  VkCommandBuffer embedCmd_ = VK_NULL_HANDLE;          // a decode step's token embedding: eval runs [embedCmd_, decodeCmd_]
  VkCommandBuffer advanceCmd_ = VK_NULL_HANDLE;        // decodeChain: embedCmd_, then [decodeCmd_, advanceCmd_] × n in one submission
  VkCommandBuffer sampleAdvanceCmd_ = VK_NULL_HANDLE;  // ... or [decodeCmd_, sampleAdvanceCmd_] × n when sampling
  VkFence fence_ = VK_NULL_HANDLE;
  std::atomic<uint64_t> submits_{0};
  Plan decodePlan_, prefillPlan_, embedPlan_, greedyAdvancePlan_, sampleAdvancePlan_;
  uint32_t pipelineCount_ = 0;
};
