// A session's buffers (Kompute's tensors): what the host writes each step and reads back, the activations of
// up to `ubatch` tokens, the KV cache, the RoPE table and the kernels' scratch. Allocated and initialized once,
// when the session is created; every recording binds them, so none moves or is replaced afterwards.
#pragma once
#include <cstddef>
#include <cstdint>

#include "buffer.h"
#include "kernel_choice.h"
#include "model_weights.h"

class VkContext;

struct StepParams {  // mirrors `StepParams` in native/shaders/common.glsl
  uint32_t nTokens, pos0, logitsBegin, pad;
};

struct SessionBuffers {
  static constexpr uint32_t kTopK = 64;       // candidates the topk kernel returns (native/shaders/topk.comp)
  static constexpr uint32_t kMaxChain = 64;   // tokens one GPU loop submission decodes at most
  static constexpr uint32_t kLogitRows = 64;  // rows of logits a step computes at most

  // `samplerStateBytes`: the GPU loop's sampler state (Session::Sampling, sampler_state.glsl).
  SessionBuffers(VkContext& ctx, const LlamaHParams& hp, const KernelChoice& kernels, uint32_t contextSize, uint32_t ubatch,
                 size_t samplerStateBytes);
  SessionBuffers(const SessionBuffers&) = delete;
  SessionBuffers& operator=(const SessionBuffers&) = delete;

  const BufferView& activation(Activation a) const;
  // Rows of logits and logitsHost: min(ubatch, kLogitRows); steps that want every row take at most this many tokens.
  uint32_t logitRows = 1;
  uint64_t deviceBytes = 0;  // the device-local bytes below

  // Host-visible.
  Buffer params;        // StepParams; also a storage buffer: the GPU loop's advance moves pos0 on
  Buffer tokens;        // the step's token ids
  Buffer argmax;        // the greedy token after the step
  Buffer topk;          // kTopK ids, then their logits
  Buffer logitsHost;    // logits copied back
  Buffer chain;         // the GPU loop's output: a counter, then up to kMaxChain token ids
  Buffer samplerState;  // the GPU loop's sampler, read and advanced by topk_sample_*
  Buffer history;       // the token at each position, for the GPU loop's penalties

  // Device-local: activations of up to ubatch tokens.
  Buffer x, xn, attn, logits;
  // q, k and v are regions of one buffer, as are gate and up, so a stacked product writes them in one
  // dispatch; every other kernel binds only its region's view.
  Buffer qkv, gateUp;
  BufferView q, k, v, gate, up;
  Buffer kCache, vCache;  // f16, [layer][position][KV head × head size]
  Buffer rope;            // cos and sin for every position and rotated pair
  // Decode attention's per-(head, chunk) partial softmaxes and per-pack counters (attention_decode.comp).
  Buffer attnPartials, attnCounters;
  Buffer argmaxCandidates;  // decode's LM head argmax: a counter, then one candidate per workgroup
  Buffer topkCandidates;    // the topk kernel's: a counter, then 64 (id, logit) per workgroup
};
