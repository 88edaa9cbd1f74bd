#include "recorder.h"

#include <cstring>

#include "kernel.h"
#include "profile.h"
#include "vk_check.h"
#include "vk_context.h"

static_assert(Recorder::kPushConstantBytes == Kernel::kPushConstantBytes, "kernels are created with the recorder's push constant range");

Recorder::Recorder(const RecordingTarget& target, VkCommandBuffer cmd, RecordPlan& plan, Profile* profile)
    : target_(target), cmd_(cmd), plan_(plan), profile_(profile) {
  plan_ = RecordPlan{};
}

void Recorder::begin(VkCommandBufferUsageFlags flags) {
  if (target_.dryRun) return;
  VkCommandBufferBeginInfo bi{VK_STRUCTURE_TYPE_COMMAND_BUFFER_BEGIN_INFO};
  bi.flags = flags;
  VK_CHECK(vkBeginCommandBuffer(cmd_, &bi));
  if (profile_) profile_->start(cmd_);
}

void Recorder::end() {
  if (!target_.dryRun) VK_CHECK(vkEndCommandBuffer(cmd_));
}

void Recorder::dispatchBytes(const KernelKey& kernel, std::initializer_list<BufferView> buffers, const void* pc, size_t pcBytes,
                             uint32_t gx, uint32_t gy, uint32_t gz) {
  if (buffers.size() != kernel.info().storageBindings)
    throw NativeError("VULKAN", "internal: " + kernel.name() + " binds " + std::to_string(kernel.info().storageBindings) +
                                    " storage buffers, got " + std::to_string(buffers.size()));
  plan_.dispatches++;
  if (target_.dryRun) {
    target_.dryRun->push_back(kernel);
    return;
  }
  VkDevice dev = target_.ctx.device();
  Kernel& k = target_.ctx.kernel(kernel);
  VkDescriptorSetLayout layout = k.setLayout();
  VkDescriptorSetAllocateInfo ai{VK_STRUCTURE_TYPE_DESCRIPTOR_SET_ALLOCATE_INFO};
  ai.descriptorPool = target_.descriptorPool;
  ai.descriptorSetCount = 1;
  ai.pSetLayouts = &layout;
  VkDescriptorSet set;
  VK_CHECK(vkAllocateDescriptorSets(dev, &ai, &set));
  std::vector<VkDescriptorBufferInfo> infos;
  infos.push_back({target_.stepParams.handle(), 0, VK_WHOLE_SIZE});
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
  vkUpdateDescriptorSets(dev, uint32_t(writes.size()), writes.data(), 0, nullptr);
  uint8_t pcBytesPadded[kPushConstantBytes] = {};
  std::memcpy(pcBytesPadded, pc, pcBytes);
  vkCmdBindPipeline(cmd_, VK_PIPELINE_BIND_POINT_COMPUTE, k.pipeline());
  vkCmdBindDescriptorSets(cmd_, VK_PIPELINE_BIND_POINT_COMPUTE, k.pipelineLayout(), 0, 1, &set, 0, nullptr);
  vkCmdPushConstants(cmd_, k.pipelineLayout(), VK_SHADER_STAGE_COMPUTE_BIT, 0, kPushConstantBytes, pcBytesPadded);
  vkCmdDispatch(cmd_, gx, gy, gz);
  if (profile_) profile_->stamp(cmd_, kernel.name());
}

void Recorder::barrier() {
  plan_.barriers++;
  if (!target_.dryRun) computeBarrier(cmd_);
}

void Recorder::memoryBarrier(VkPipelineStageFlags srcStages, VkAccessFlags srcAccess, VkPipelineStageFlags dstStages,
                             VkAccessFlags dstAccess) {
  if (target_.dryRun) return;
  VkMemoryBarrier mb{VK_STRUCTURE_TYPE_MEMORY_BARRIER};
  mb.srcAccessMask = srcAccess;
  mb.dstAccessMask = dstAccess;
  vkCmdPipelineBarrier(cmd_, srcStages, dstStages, 0, 1, &mb, 0, nullptr, 0, nullptr);
}
