// Records dispatches into one command buffer (Kompute's Sequence): binds each kernel's buffers through a
// descriptor set allocated once, at recording, pushes its constants, and counts dispatches and barriers (the
// plan the bench reports). Everything it needs comes in as arguments; it knows nothing of the model.
//
// A session records every command buffer twice: a dry run, in which each dispatch only adds its kernel to a
// list (the pipelines are then built in parallel), and the real recording.
#pragma once
#include <vulkan/vulkan.h>
#include <cstdint>
#include <initializer_list>
#include <vector>

#include "buffer.h"
#include "kernel_key.h"

class VkContext;
class Profile;

// Dispatches and barriers (dependencies between dispatches) a recording makes.
struct RecordPlan {
  uint32_t dispatches = 0, barriers = 0;
};

// What every recording of a session shares.
struct RecordingTarget {
  VkContext& ctx;
  VkDescriptorPool descriptorPool;  // where each dispatch's descriptor set comes from
  const Buffer& stepParams;         // bound at binding 0 of every kernel (StepParams in native/shaders/common.glsl)
  std::vector<KernelKey>* dryRun;   // non-null: record nothing, list each dispatch's kernel here
};

class Recorder {
 public:
  // The product kernels' push constants are the largest: 12 words.
  static constexpr uint32_t kPushConstantBytes = 48;

  // Resets `plan`; `profile` (optional) gets a timestamp after every dispatch.
  Recorder(const RecordingTarget& target, VkCommandBuffer cmd, RecordPlan& plan, Profile* profile = nullptr);

  void begin(VkCommandBufferUsageFlags flags);
  void end();

  template <typename PC>
  void dispatch(const KernelKey& kernel, std::initializer_list<BufferView> buffers, const PC& pc, uint32_t gx, uint32_t gy = 1,
                uint32_t gz = 1) {
    static_assert(sizeof(PC) <= kPushConstantBytes, "push constants too large");
    dispatchBytes(kernel, buffers, &pc, sizeof(PC), gx, gy, gz);
  }
  // Compute writes before compute reads and writes: the dependency between two dispatches (counted in the plan).
  void barrier();
  // Any other dependency (towards the host, transfers); not counted.
  void memoryBarrier(VkPipelineStageFlags srcStages, VkAccessFlags srcAccess, VkPipelineStageFlags dstStages, VkAccessFlags dstAccess);

 private:
  void dispatchBytes(const KernelKey& kernel, std::initializer_list<BufferView> buffers, const void* pc, size_t pcBytes, uint32_t gx,
                     uint32_t gy, uint32_t gz);
  const RecordingTarget& target_;
  VkCommandBuffer cmd_;
  RecordPlan& plan_;
  Profile* profile_;
};
