#include "kernel.h"

#include <cstring>
#include <vector>

#include "shaders.h"
#include "vk_check.h"
#include "vk_context.h"

namespace {

// Storage buffers each kernel binds after the step-parameter uniform (see native/shaders/*.comp).
uint32_t storageBindingCount(const std::string& name) {
  if (name.rfind("matmul_", 0) == 0 || name.rfind("matmul1_", 0) == 0 || name.rfind("matmul16_", 0) == 0 || name.rfind("embed_", 0) == 0) return 3;
  if (name.rfind("matvec_", 0) == 0) return name.find("argmax_") != std::string::npos ? 6 : 4;
  if (name == "rmsnorm") return 3;
  if (name == "rope_kv") return 6;
  if (name == "attention" || name == "attention_prefill") return 4;
  if (name == "attention_decode") return 9;
  if (name == "silu_mul") return 2;
  if (name == "argmax") return 2;
  if (name == "topk") return 3;
  if (name.rfind("topk_sample_", 0) == 0) return 9;
  if (name.rfind("decode_advance_", 0) == 0) return 5;
  throw NativeError("VULKAN", "unknown kernel " + name);
}

// "matvec_q4_0#2" → shader "matvec_q4_0" with specialization constant 0 = 2 ("#a#b": constants 0 and 1).
std::string splitSpecialization(const std::string& name, std::vector<uint32_t>& constants) {
  size_t hash = name.find('#');
  if (hash == std::string::npos) return name;
  size_t at = hash;
  while (at != std::string::npos) {
    size_t next = name.find('#', at + 1);
    std::string digits = name.substr(at + 1, next == std::string::npos ? std::string::npos : next - at - 1);
    if (digits.empty() || digits.size() > 9 || digits.find_first_not_of("0123456789") != std::string::npos)
      throw NativeError("VULKAN", "bad specialization constant in kernel name " + name);
    constants.push_back(uint32_t(std::stoul(digits)));
    at = next;
  }
  return name.substr(0, hash);
}

}  // namespace

Kernel::Kernel(VkContext& ctx, const std::string& name) : ctx_(ctx), name_(name) {
  std::vector<uint32_t> constants;
  const std::string shaderName = splitSpecialization(name, constants);
  const EmbeddedShader* shader = nullptr;
  for (const auto& s : kEmbeddedShaders)
    if (shaderName == s.name) shader = &s;
  if (!shader) throw NativeError("VULKAN", "no embedded SPIR-V for kernel " + name);
  storageBindings_ = storageBindingCount(shaderName);
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

Kernel::~Kernel() { destroy(); }

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
