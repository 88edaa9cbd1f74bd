#include "session_buffers.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "llama_ops.h"
#include "vk_check.h"
#include "vk_context.h"

namespace {

constexpr VkBufferUsageFlags kStorage =
    VK_BUFFER_USAGE_STORAGE_BUFFER_BIT | VK_BUFFER_USAGE_TRANSFER_SRC_BIT | VK_BUFFER_USAGE_TRANSFER_DST_BIT;

uint64_t ceilDiv(uint64_t a, uint64_t b) {
  return (a + b - 1) / b;
}

}  // namespace

SessionBuffers::SessionBuffers(VkContext& ctx, const LlamaHParams& hp, const KernelChoice& kernels, uint32_t contextSize, uint32_t ubatch,
                               size_t samplerStateBytes) {
  const uint64_t E = hp.nEmbd, KV = uint64_t(hp.nHeadKv) * hp.headDim, F = hp.nFf, T = ubatch;
  auto device = [&](uint64_t bytes) {
    deviceBytes += bytes;
    return Buffer(ctx, bytes, kStorage, Buffer::Kind::DeviceLocal);
  };
  auto host = [&](uint64_t bytes, VkBufferUsageFlags usage = VK_BUFFER_USAGE_STORAGE_BUFFER_BIT) {
    return Buffer(ctx, bytes, usage, Buffer::Kind::HostVisible);
  };
  params = host(sizeof(StepParams), VK_BUFFER_USAGE_UNIFORM_BUFFER_BIT | VK_BUFFER_USAGE_STORAGE_BUFFER_BIT);
  tokens = host(T * 4);
  argmax = host(16);
  topk = host(kTopK * 8);
  chain = host((1 + kMaxChain) * 4);
  samplerState = host(samplerStateBytes);
  // One more entry than positions: a chain's last draw is recorded after the context's last position.
  history = host((uint64_t(contextSize) + 1) * 4);
  // Logits rows are sized apart from the micro-batch: a prompt step computes its last token's row only,
  // and steps that want every token's row are cut to kLogitRows tokens, so a long micro-batch (512 tokens on
  // GPUs) costs activations, not 512 rows of 32,000 logits twice over.
  logitRows = std::min(ubatch, kLogitRows);
  logitsHost = host(uint64_t(logitRows) * hp.nVocab * 4, VK_BUFFER_USAGE_TRANSFER_DST_BIT);

  x = device(T * E * 4);
  xn = device(T * E * 4);
  attn = device(T * E * 4);
  // q, k, v in one buffer and gate, up in another, each region starting at a multiple of 256 bytes: Vulkan
  // requires every device's minStorageBufferOffsetAlignment (a power of two) to be at most 256.
  const auto aligned = [](uint64_t bytes) { return (bytes + 255) / 256 * 256; };
  const uint64_t qBytes = T * E * 4, kvBytes = T * KV * 4, ffBytes = T * F * 4;
  qkv = device(aligned(qBytes) + aligned(kvBytes) + kvBytes);
  q = BufferView(qkv, 0, qBytes);
  k = BufferView(qkv, aligned(qBytes), kvBytes);
  v = BufferView(qkv, aligned(qBytes) + aligned(kvBytes), kvBytes);
  gateUp = device(aligned(ffBytes) + ffBytes);
  gate = BufferView(gateUp, 0, ffBytes);
  up = BufferView(gateUp, aligned(ffBytes), ffBytes);
  logits = device(uint64_t(logitRows) * hp.nVocab * 4);
  kCache = device(uint64_t(hp.nLayer) * contextSize * KV * 2);
  vCache = device(uint64_t(hp.nLayer) * contextSize * KV * 2);

  if (kernels.decode == DecodeKernel::Matvec) {
    const uint64_t chunks = ceilDiv(contextSize, kernels.attnChunk);
    attnPartials = device(uint64_t(hp.nHead) * chunks * (hp.headDim / 2 + 1) * 8);  // (m, l) + acc pairs, as vec2
    attnCounters = device(uint64_t(hp.nHead) * 4);
    // Decode's LM head argmax (matvec.comp's ARGMAX): a counter and a pad word, then one (logit, row) candidate
    // per workgroup of the product's grid.
    if (kernels.fusedArgmax)
      argmaxCandidates =
          device(8 + 8 * productGrid(matvecRowsPerWorkgroup(ctx.info().subgroupSize, kernels.matvecRows), hp.nVocab).workgroups());
    const std::vector<uint32_t> zeros(std::max(hp.nHead, 2u), 0);  // the kernels leave their counters 0 after every dispatch
    Uploader uploader(ctx, hp.nHead * 4 + 8);
    uploader.upload(attnCounters.handle(), 0, zeros.data(), hp.nHead * 4);
    if (kernels.fusedArgmax) uploader.upload(argmaxCandidates.handle(), 0, zeros.data(), 8);
    uploader.flush();
  }

  topkCandidates = device(8 + uint64_t(kernels.topkGroups) * kTopK * 8);
  {
    const uint32_t zeros[2] = {0, 0};  // the kernel leaves its counter 0 after every dispatch
    Uploader uploader(ctx, 8);
    uploader.upload(topkCandidates.handle(), 0, zeros, 8);
    uploader.flush();
  }

  // RoPE cos/sin for every position, in double precision: exact even at large positions.
  rope = device(uint64_t(contextSize) * (hp.ropeDim / 2) * 8);
  {
    std::vector<float> table(size_t(contextSize) * (hp.ropeDim / 2) * 2);
    for (uint32_t p = 0; p < contextSize; ++p)
      for (uint32_t i = 0; i < hp.ropeDim / 2; ++i) {
        double theta = double(p) * std::pow(double(hp.ropeBase), -2.0 * i / double(hp.ropeDim));
        table[(size_t(p) * (hp.ropeDim / 2) + i) * 2] = float(std::cos(theta));
        table[(size_t(p) * (hp.ropeDim / 2) + i) * 2 + 1] = float(std::sin(theta));
      }
    Uploader uploader(ctx, std::max<uint64_t>(table.size() * 4, 4));
    uploader.upload(rope.handle(), 0, table.data(), table.size() * 4);
    uploader.flush();
  }
}

const BufferView& SessionBuffers::activation(Activation a) const {
  switch (a) {
    case Activation::Q:
      return q;
    case Activation::K:
      return k;
    case Activation::V:
      return v;
    case Activation::Gate:
      return gate;
    case Activation::Up:
      return up;
  }
  throw NativeError("VULKAN", "unknown activation");
}
