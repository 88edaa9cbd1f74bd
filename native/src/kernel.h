// One compute kernel: shader module, descriptor set layout (binding 0 = step parameters uniform,
// bindings 1..n = storage buffers), pipeline layout with 48 bytes of push constants, and pipeline.
#pragma once
#include <vulkan/vulkan.h>
#include <string>

class VkContext;

class Kernel {
 public:
  // The product kernels' 12 words (native/shaders/matvec.comp); Vulkan guarantees 128.
  static constexpr uint32_t kPushConstantBytes = 48;
  Kernel(VkContext& ctx, const std::string& name);
  ~Kernel();
  Kernel(const Kernel&) = delete;
  Kernel& operator=(const Kernel&) = delete;

  const std::string& name() const { return name_; }
  uint32_t storageBindings() const { return storageBindings_; }
  VkDescriptorSetLayout setLayout() const { return setLayout_; }
  VkPipelineLayout pipelineLayout() const { return pipelineLayout_; }
  VkPipeline pipeline() const { return pipeline_; }

 private:
  void destroy();
  VkContext& ctx_;
  std::string name_;
  uint32_t storageBindings_ = 0;
  VkShaderModule module_ = VK_NULL_HANDLE;
  VkDescriptorSetLayout setLayout_ = VK_NULL_HANDLE;
  VkPipelineLayout pipelineLayout_ = VK_NULL_HANDLE;
  VkPipeline pipeline_ = VK_NULL_HANDLE;
};
