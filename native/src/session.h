// One conversation's state on the GPU: KV cache, activations, and the forward pass recorded once into
// two command buffers (decode: 1 token; prefill: up to `ubatch` tokens). Each eval only writes the
// step parameters and token ids into host-visible memory and replays a recorded command buffer.
#pragma once
#include <vulkan/vulkan.h>
#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "buffer.h"
#include "kernel_choice.h"
#include "model_weights.h"

class Kernel;

class Session {
 public:
  enum class Output { LastLogits = 0, AllLogits = 1, ArgmaxOnly = 2, TopK = 3 };
  static constexpr uint32_t kTopK = 64;  // candidates the topk kernel returns (native/shaders/topk.comp)
  struct Result {
    std::vector<float> logits;  // rows × n_vocab (empty for ArgmaxOnly)
    uint32_t rows = 0;
    int32_t argmax = -1;        // greedy token after the last evaluated token
    std::vector<int32_t> topIds;  // TopK: the kTopK most likely next tokens (unordered)
    std::vector<float> topLogits;
  };
  struct Plan {
    uint32_t dispatches = 0, barriers = 0;  // per token, as recorded (barriers: dependencies between dispatches)
  };

  // Kernel sets and measured tunings: native/src/kernel_choice.h.
  using KernelSet = ::KernelSet;
  using Tuning = ::KernelTuning;
  Session(std::shared_ptr<ModelWeights> model, uint32_t contextSize, uint32_t ubatch, KernelSet kernels,
          const Tuning& tuning);
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
  static constexpr uint32_t kMaxChain = 64;
  struct Sampling {  // mirrors SamplerState in native/shaders/sampler_state.glsl
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
  uint64_t deviceBytes() const { return deviceBytes_; }

 private:
  class Recorder;
  // PARLEY_PROFILE=1: a timestamp after every dispatch; eval prints the time per kernel to stderr.
  struct Profile {
    VkQueryPool pool = VK_NULL_HANDLE;
    std::vector<std::string> names;  // kernel of each timestamp after the first
  };

  // Records every command buffer (decode, prefill, short prefill, topk, the chain advances); run twice at
  // creation, first as a dry run that only lists the kernels (collecting_), which are then built in parallel.
  void recordAll();
  // vkBeginCommandBuffer, vkEndCommandBuffer and one global memory barrier; none of them in a dry run.
  void beginRecording(VkCommandBuffer cmd, VkCommandBufferUsageFlags flags);
  void endRecording(VkCommandBuffer cmd);
  void memoryBarrier(VkCommandBuffer cmd, VkPipelineStageFlags srcStages, VkAccessFlags srcAccess, VkPipelineStageFlags dstStages,
                     VkAccessFlags dstAccess);
  std::vector<std::string>* collecting_ = nullptr;  // during the dry run: the kernel of every dispatch
  void recordTopK();
  template <typename Body>
  void recordUnprofiled(VkCommandBuffer cmd, Plan& plan, Body&& body);
  enum class Advance { Greedy, Sample };
  void recordAdvance(VkCommandBuffer cmd, Advance mode, Plan& plan);
  void recordEmbed(VkCommandBuffer cmd);
  // `embed`: the recording starts with the tokens' embedding (prompt steps); the decode step's comes from
  // embedCmd_ (eval) or the previous step's advance (decodeChain).
  void recordForward(VkCommandBuffer cmd, uint32_t capacity, bool embed, Plan& plan, Profile& profile, bool matvecTiles = false);

  void printProfile(const Profile& p);
  void releaseVulkanObjects();  // the destructor's work; also run when the constructor fails part-way
  bool profiling_ = false;
  KernelChoice kernels_;  // which kernels a step records, with which settings (kernel_choice.h)
  Profile decodeProfile_, prefillProfile_;

  std::shared_ptr<ModelWeights> model_;
  VkContext& ctx_;
  uint32_t ctxSize_, ubatch_;
  // Rows of logits_ (and logitsHost_): min(ubatch, kLogitRows); AllLogits steps take at most this many tokens.
  static constexpr uint32_t kLogitRows = 64;
  uint32_t logitRows_ = 1;
  Buffer params_, tokens_, argmax_, topk_, logitsHost_;
  Buffer chain_;  // decodeChain's output: a counter, then up to kMaxChain token ids (host-visible)
  Buffer samplerState_;  // decodeChain's Sampling (host-visible): read and advanced by topk_sample_*
  Buffer history_;       // the token at each position (host-visible), for the GPU loop's penalties
  Buffer x_, xn_, attn_, logits_, kCache_, vCache_, rope_;
  // q, k and v are regions of one buffer, as are gate and up, so a stacked product writes them in one
  // dispatch; every other kernel binds only its region's view.
  Buffer qkv_, gateUp_;
  BufferView q_, k_, v_, gate_, up_;
  const BufferView& activation(Activation a) const;
  // GPU decode attention (native/shaders/attention_decode.comp): keys per workgroup, query heads per
  // workgroup (a divisor of the GQA group, <= 8), per-(head, chunk) partials and per-pack counters.
  uint32_t attnChunk_ = 64, attnHeadsPerWg_ = 1;
  Buffer attnPartials_, attnCounters_;
  Buffer argmaxCandidates_;  // decode's LM head argmax: a counter, then one candidate per workgroup
  Buffer topkCandidates_;    // the topk kernel's: a counter, then 64 (id, logit) per workgroup
  uint32_t topkGroups_ = 1;  // the topk kernel's workgroups (slices of the logits row)
  VkDescriptorPool descriptorPool_ = VK_NULL_HANDLE;
  VkCommandPool commandPool_ = VK_NULL_HANDLE;
  VkCommandBuffer decodeCmd_ = VK_NULL_HANDLE, prefillCmd_ = VK_NULL_HANDLE, copyCmd_ = VK_NULL_HANDLE, topkCmd_ = VK_NULL_HANDLE,
                  shortPrefillCmd_ = VK_NULL_HANDLE;
  VkCommandBuffer embedCmd_ = VK_NULL_HANDLE;    // a decode step's token embedding: eval runs [embedCmd_, decodeCmd_]
  VkCommandBuffer advanceCmd_ = VK_NULL_HANDLE;  // decodeChain: embedCmd_, then [decodeCmd_, advanceCmd_] × n in one submission
  VkCommandBuffer sampleAdvanceCmd_ = VK_NULL_HANDLE;  // ... or [decodeCmd_, sampleAdvanceCmd_] × n when sampling
  std::atomic<uint64_t> submits_{0};
  VkFence fence_ = VK_NULL_HANDLE;
  Plan decodePlan_, prefillPlan_, embedPlan_, greedyAdvancePlan_, sampleAdvancePlan_;
  uint64_t deviceBytes_ = 0;
  uint32_t pipelineCount_ = 0;
};
