// One compute pipeline: the shader module of a catalogue variant, its descriptor set layout (binding 0 = step
// parameters uniform, bindings 1..n = the catalogue's storage buffers), a pipeline layout with 48 bytes of push
// constants, and the pipeline with the key's specialization constants.
#pragma once
#include <vulkan/vulkan.h>
#include <string>

#include "kernel_key.h"

class VkContext;

class Kernel {
 public:
  // The product kernels' 12 words (native/shaders/matvec.comp); Vulkan guarantees 128.
  static constexpr uint32_t kPushConstantBytes = 48;
  Kernel(VkContext& ctx, const KernelKey& key);
  ~Kernel();
  Kernel(const Kernel&) = delete;
  Kernel& operator=(const Kernel&) = delete;

  const KernelKey& key() const { return key_; }
  uint32_t storageBindings() const { return storageBindings_; }
  VkDescriptorSetLayout setLayout() const { return setLayout_; }
  VkPipelineLayout pipelineLayout() const { return pipelineLayout_; }
  VkPipeline pipeline() const { return pipeline_; }

 private:
  void destroy();
  VkContext& ctx_;
  KernelKey key_;
  uint32_t storageBindings_ = 0;
  VkShaderModule module_ = VK_NULL_HANDLE;
  VkDescriptorSetLayout setLayout_ = VK_NULL_HANDLE;
  VkPipelineLayout pipelineLayout_ = VK_NULL_HANDLE;
  VkPipeline pipeline_ = VK_NULL_HANDLE;
};
