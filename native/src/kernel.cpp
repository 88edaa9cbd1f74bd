#include "kernel.h"

#include <cstring>
#include <vector>

#include "kernel_catalogue.h"
#include "shaders.h"
#include "vk_check.h"
#include "vk_context.h"

Kernel::Kernel(VkContext& ctx, const KernelKey& key) : ctx_(ctx), key_(key) {
  const VariantSpirv* shader = &kVariantSpirv[key.variant()];
  storageBindings_ = key.info().storageBindings;
  const std::vector<uint32_t> constants(key.spec.begin(), key.spec.begin() + key.info().specConstants);
  VkDevice dev = ctx.device();
  try {
    VkShaderModuleCreateInfo smci{VK_STRUCTURE_TYPE_SHADER_MODULE_CREATE_INFO};
    smci.codeSize = shader->size;
    smci.pCode = shader->code;
    VK_CHECK(vkCreateShaderModule(dev, &smci, nullptr, &module_));

    std::vector<VkDescriptorSetLayoutBinding> bindings(storageBindings_ + 1);
    for (uint32_t i = 0; i < bindings.size(); ++i) {
      bindings[i].binding = i;
      bindings[i].descriptorType = i == 0 ? VK_DESCRIPTOR_TYPE_UNIFORM_BUFFER : VK_DESCRIPTOR_TYPE_STORAGE_BUFFER;
      bindings[i].descriptorCount = 1;
      bindings[i].stageFlags = VK_SHADER_STAGE_COMPUTE_BIT;
    }
    VkDescriptorSetLayoutCreateInfo dl{VK_STRUCTURE_TYPE_DESCRIPTOR_SET_LAYOUT_CREATE_INFO};
    dl.bindingCount = uint32_t(bindings.size());
    dl.pBindings = bindings.data();
    VK_CHECK(vkCreateDescriptorSetLayout(dev, &dl, nullptr, &setLayout_));

    VkPushConstantRange pcr{VK_SHADER_STAGE_COMPUTE_BIT, 0, kPushConstantBytes};
    VkPipelineLayoutCreateInfo pl{VK_STRUCTURE_TYPE_PIPELINE_LAYOUT_CREATE_INFO};
    pl.setLayoutCount = 1;
    pl.pSetLayouts = &setLayout_;
    pl.pushConstantRangeCount = 1;
    pl.pPushConstantRanges = &pcr;
    VK_CHECK(vkCreatePipelineLayout(dev, &pl, nullptr, &pipelineLayout_));

    VkComputePipelineCreateInfo cpi{VK_STRUCTURE_TYPE_COMPUTE_PIPELINE_CREATE_INFO};
    cpi.stage.sType = VK_STRUCTURE_TYPE_PIPELINE_SHADER_STAGE_CREATE_INFO;
    cpi.stage.stage = VK_SHADER_STAGE_COMPUTE_BIT;
    cpi.stage.module = module_;
    cpi.stage.pName = "main";
    std::vector<VkSpecializationMapEntry> entries(constants.size());
    for (uint32_t i = 0; i < entries.size(); ++i) entries[i] = {i, i * 4, 4};
    VkSpecializationInfo spec{uint32_t(entries.size()), entries.data(), constants.size() * 4, constants.data()};
    if (!constants.empty()) cpi.stage.pSpecializationInfo = &spec;
    cpi.layout = pipelineLayout_;
    VK_CHECK(vkCreateComputePipelines(dev, ctx.pipelineCache(), 1, &cpi, nullptr, &pipeline_));
  } catch (...) {
    destroy();
    throw;
  }
}

Kernel::~Kernel() {
  destroy();
}

void Kernel::destroy() {
  VkDevice dev = ctx_.device();
  if (pipeline_) vkDestroyPipeline(dev, pipeline_, nullptr);
  if (pipelineLayout_) vkDestroyPipelineLayout(dev, pipelineLayout_, nullptr);
  if (setLayout_) vkDestroyDescriptorSetLayout(dev, setLayout_, nullptr);
  if (module_) vkDestroyShaderModule(dev, module_, nullptr);
  pipeline_ = VK_NULL_HANDLE;
  pipelineLayout_ = VK_NULL_HANDLE;
  setLayout_ = VK_NULL_HANDLE;
  module_ = VK_NULL_HANDLE;
}
