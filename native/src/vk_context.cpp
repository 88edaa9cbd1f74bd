#include "vk_context.h"

#include <algorithm>
#include <chrono>
#include <cstring>
#include <exception>
#include <unordered_set>
#include <thread>

#include "kernel.h"
#include "vk_check.h"

const char* vkResultName(VkResult r) {
  switch (r) {
    case VK_SUCCESS:
      return "VK_SUCCESS";
    case VK_NOT_READY:
      return "VK_NOT_READY";
    case VK_TIMEOUT:
      return "VK_TIMEOUT";
    case VK_EVENT_SET:
      return "VK_EVENT_SET";
    case VK_EVENT_RESET:
      return "VK_EVENT_RESET";
    case VK_INCOMPLETE:
      return "VK_INCOMPLETE";
    case VK_ERROR_OUT_OF_HOST_MEMORY:
      return "VK_ERROR_OUT_OF_HOST_MEMORY";
    case VK_ERROR_OUT_OF_DEVICE_MEMORY:
      return "VK_ERROR_OUT_OF_DEVICE_MEMORY";
    case VK_ERROR_INITIALIZATION_FAILED:
      return "VK_ERROR_INITIALIZATION_FAILED";
    case VK_ERROR_DEVICE_LOST:
      return "VK_ERROR_DEVICE_LOST";
    case VK_ERROR_MEMORY_MAP_FAILED:
      return "VK_ERROR_MEMORY_MAP_FAILED";
    case VK_ERROR_LAYER_NOT_PRESENT:
      return "VK_ERROR_LAYER_NOT_PRESENT";
    case VK_ERROR_EXTENSION_NOT_PRESENT:
      return "VK_ERROR_EXTENSION_NOT_PRESENT";
    case VK_ERROR_FEATURE_NOT_PRESENT:
      return "VK_ERROR_FEATURE_NOT_PRESENT";
    case VK_ERROR_INCOMPATIBLE_DRIVER:
      return "VK_ERROR_INCOMPATIBLE_DRIVER";
    case VK_ERROR_TOO_MANY_OBJECTS:
      return "VK_ERROR_TOO_MANY_OBJECTS";
    case VK_ERROR_FORMAT_NOT_SUPPORTED:
      return "VK_ERROR_FORMAT_NOT_SUPPORTED";
    case VK_ERROR_FRAGMENTED_POOL:
      return "VK_ERROR_FRAGMENTED_POOL";
    case VK_ERROR_UNKNOWN:
      return "VK_ERROR_UNKNOWN";
    case VK_ERROR_OUT_OF_POOL_MEMORY:
      return "VK_ERROR_OUT_OF_POOL_MEMORY";
    case VK_ERROR_INVALID_EXTERNAL_HANDLE:
      return "VK_ERROR_INVALID_EXTERNAL_HANDLE";
    case VK_ERROR_FRAGMENTATION:
      return "VK_ERROR_FRAGMENTATION";
    default:
      return "VK_ERROR_(unnamed)";
  }
}

void throwVkError(VkResult r, const char* call) {
  std::string msg = std::string("Vulkan call failed: ") + call + " returned " + vkResultName(r);
  if (r == VK_ERROR_OUT_OF_DEVICE_MEMORY || r == VK_ERROR_OUT_OF_HOST_MEMORY) {
    throw NativeError("OUT_OF_DEVICE_MEMORY",
                      std::string("out of ") + (r == VK_ERROR_OUT_OF_DEVICE_MEMORY ? "device" : "host") + " memory (" + call +
                          "); use a smaller model, a smaller context or free GPU memory",
                      vkResultName(r));
  }
  throw NativeError("VULKAN", msg, vkResultName(r));
}

namespace {

const char* kValidationLayer = "VK_LAYER_KHRONOS_validation";

VKAPI_ATTR VkBool32 VKAPI_CALL onDebugMessage(VkDebugUtilsMessageSeverityFlagBitsEXT severity, VkDebugUtilsMessageTypeFlagsEXT,
                                              const VkDebugUtilsMessengerCallbackDataEXT* data, void* user) {
  auto* ctx = static_cast<VkContext*>(user);
  bool error = severity & VK_DEBUG_UTILS_MESSAGE_SEVERITY_ERROR_BIT_EXT;
  ctx->addValidationMessage({error ? "error" : "warning", data && data->pMessage ? data->pMessage : ""});
  return VK_FALSE;
}

bool layerAvailable(const char* name) {
  uint32_t count = 0;
  if (vkEnumerateInstanceLayerProperties(&count, nullptr) != VK_SUCCESS) return false;
  std::vector<VkLayerProperties> layers(count);
  if (vkEnumerateInstanceLayerProperties(&count, layers.data()) != VK_SUCCESS) return false;
  for (auto& l : layers)
    if (std::strcmp(l.layerName, name) == 0) return true;
  return false;
}

bool hasDeviceExtension(VkPhysicalDevice pd, const char* name) {
  uint32_t count = 0;
  if (vkEnumerateDeviceExtensionProperties(pd, nullptr, &count, nullptr) != VK_SUCCESS) return false;
  std::vector<VkExtensionProperties> exts(count);
  if (vkEnumerateDeviceExtensionProperties(pd, nullptr, &count, exts.data()) != VK_SUCCESS) return false;
  for (auto& e : exts)
    if (std::strcmp(e.extensionName, name) == 0) return true;
  return false;
}

VkInstance createInstance(bool validation, bool syncChecks) {
  VkApplicationInfo app{VK_STRUCTURE_TYPE_APPLICATION_INFO};
  app.pApplicationName = "parley";
  app.pEngineName = "parley";
  app.apiVersion = VK_API_VERSION_1_2;
  VkInstanceCreateInfo ci{VK_STRUCTURE_TYPE_INSTANCE_CREATE_INFO};
  ci.pApplicationInfo = &app;
  const char* ext = VK_EXT_DEBUG_UTILS_EXTENSION_NAME;
  // With the validation layer, its synchronization checks too: every missing or too-narrow barrier inside a
  // recording is an error (SYNC-HAZARD-*), on lavapipe as on a GPU, where an actual race would only show as
  // occasional wrong results. They can be left out (they slow recording down).
  VkValidationFeatureEnableEXT syncValidation = VK_VALIDATION_FEATURE_ENABLE_SYNCHRONIZATION_VALIDATION_EXT;
  VkValidationFeaturesEXT features{VK_STRUCTURE_TYPE_VALIDATION_FEATURES_EXT};
  features.enabledValidationFeatureCount = 1;
  features.pEnabledValidationFeatures = &syncValidation;
  if (validation && syncChecks) ci.pNext = &features;
  if (validation) {
    ci.enabledLayerCount = 1;
    ci.ppEnabledLayerNames = &kValidationLayer;
    ci.enabledExtensionCount = 1;
    ci.ppEnabledExtensionNames = &ext;
  }
  VkInstance instance = VK_NULL_HANDLE;
  VkResult r = vkCreateInstance(&ci, nullptr, &instance);
  if (r == VK_ERROR_INCOMPATIBLE_DRIVER || r == VK_ERROR_INITIALIZATION_FAILED) {
    throw NativeError("NO_VULKAN_DEVICE",
                      std::string("no Vulkan driver could be loaded (") + vkResultName(r) +
                          "); install a GPU driver, or Mesa's lavapipe on machines without a GPU: "
                          "sudo apt-get install -y mesa-vulkan-drivers",
                      vkResultName(r));
  }
  VK_CHECK(r);
  return instance;
}

std::vector<VkPhysicalDevice> physicalDevices(VkInstance instance) {
  uint32_t count = 0;
  VK_CHECK(vkEnumeratePhysicalDevices(instance, &count, nullptr));
  std::vector<VkPhysicalDevice> devices(count);
  if (count) VK_CHECK(vkEnumeratePhysicalDevices(instance, &count, devices.data()));
  return devices;
}

const char* typeName(VkPhysicalDeviceType t) {
  switch (t) {
    case VK_PHYSICAL_DEVICE_TYPE_DISCRETE_GPU:
      return "discrete";
    case VK_PHYSICAL_DEVICE_TYPE_INTEGRATED_GPU:
      return "integrated";
    case VK_PHYSICAL_DEVICE_TYPE_VIRTUAL_GPU:
      return "virtual";
    case VK_PHYSICAL_DEVICE_TYPE_CPU:
      return "cpu";
    default:
      return "other";
  }
}

int typeRank(VkPhysicalDeviceType t) {
  switch (t) {
    case VK_PHYSICAL_DEVICE_TYPE_DISCRETE_GPU:
      return 4;
    case VK_PHYSICAL_DEVICE_TYPE_INTEGRATED_GPU:
      return 3;
    case VK_PHYSICAL_DEVICE_TYPE_VIRTUAL_GPU:
      return 2;
    case VK_PHYSICAL_DEVICE_TYPE_CPU:
      return 1;
    default:
      return 0;
  }
}

// Whether the device lists a cooperative-matrix shape the prefill kernel uses: 16 × 16 × 16, fp16 A and B, fp32
// C and D, subgroup scope.
bool hasCoopmatShape(VkInstance instance, VkPhysicalDevice pd) {
  auto get = reinterpret_cast<PFN_vkGetPhysicalDeviceCooperativeMatrixPropertiesNV>(
      vkGetInstanceProcAddr(instance, "vkGetPhysicalDeviceCooperativeMatrixPropertiesNV"));
  if (!get) return false;
  uint32_t count = 0;
  if (get(pd, &count, nullptr) != VK_SUCCESS || count == 0) return false;
  std::vector<VkCooperativeMatrixPropertiesNV> shapes(count, {VK_STRUCTURE_TYPE_COOPERATIVE_MATRIX_PROPERTIES_NV});
  // VK_INCOMPLETE cannot happen with the count just read; anything but success counts as "no".
  if (get(pd, &count, shapes.data()) != VK_SUCCESS) return false;
  for (uint32_t i = 0; i < count; ++i) {
    const auto& s = shapes[i];
    if (s.MSize == 16 && s.NSize == 16 && s.KSize == 16 && s.AType == VK_COMPONENT_TYPE_FLOAT16_NV &&
        s.BType == VK_COMPONENT_TYPE_FLOAT16_NV && s.CType == VK_COMPONENT_TYPE_FLOAT32_NV && s.DType == VK_COMPONENT_TYPE_FLOAT32_NV &&
        s.scope == VK_SCOPE_SUBGROUP_NV)
      return true;
  }
  return false;
}

DeviceInfo describe(VkInstance instance, VkPhysicalDevice pd, uint32_t index) {
  VkPhysicalDeviceDriverProperties driver{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_DRIVER_PROPERTIES};
  VkPhysicalDeviceSubgroupProperties subgroup{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_SUBGROUP_PROPERTIES};
  VkPhysicalDeviceShaderIntegerDotProductProperties dotProps{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_SHADER_INTEGER_DOT_PRODUCT_PROPERTIES};
  bool hasDot = hasDeviceExtension(pd, "VK_KHR_shader_integer_dot_product");
  const bool hasCoopmatNV = hasDeviceExtension(pd, "VK_NV_cooperative_matrix");
  VkPhysicalDeviceCooperativeMatrixPropertiesNV coopmatProps{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_COOPERATIVE_MATRIX_PROPERTIES_NV};
  subgroup.pNext = &driver;
  if (hasDot) driver.pNext = &dotProps;
  if (hasCoopmatNV) (hasDot ? dotProps.pNext : driver.pNext) = &coopmatProps;
  VkPhysicalDeviceProperties2 props{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_PROPERTIES_2};
  props.pNext = &subgroup;
  vkGetPhysicalDeviceProperties2(pd, &props);

  VkPhysicalDeviceShaderFloat16Int8Features f16i8{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_SHADER_FLOAT16_INT8_FEATURES};
  VkPhysicalDeviceVulkanMemoryModelFeatures memoryModel{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_VULKAN_MEMORY_MODEL_FEATURES};
  VkPhysicalDeviceShaderIntegerDotProductFeatures dotFeatures{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_SHADER_INTEGER_DOT_PRODUCT_FEATURES};
  VkPhysicalDeviceCooperativeMatrixFeaturesNV coopmatFeatures{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_COOPERATIVE_MATRIX_FEATURES_NV};
  f16i8.pNext = &memoryModel;
  void** tail = &memoryModel.pNext;
  if (hasDot) {
    *tail = &dotFeatures;
    tail = &dotFeatures.pNext;
  }
  if (hasCoopmatNV) *tail = &coopmatFeatures;
  VkPhysicalDeviceFeatures2 features{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_FEATURES_2};
  features.pNext = &f16i8;
  vkGetPhysicalDeviceFeatures2(pd, &features);

  VkPhysicalDeviceMemoryProperties mem;
  vkGetPhysicalDeviceMemoryProperties(pd, &mem);

  DeviceInfo info;
  info.index = index;
  info.name = props.properties.deviceName;
  info.type = typeName(props.properties.deviceType);
  info.driverName = driver.driverName;
  info.driverInfo = driver.driverInfo;
  uint32_t v = props.properties.apiVersion;
  info.apiVersion = std::to_string(VK_API_VERSION_MAJOR(v)) + "." + std::to_string(VK_API_VERSION_MINOR(v)) + "." +
                    std::to_string(VK_API_VERSION_PATCH(v));
  info.vendorId = props.properties.vendorID;
  info.deviceId = props.properties.deviceID;
  for (uint32_t i = 0; i < mem.memoryHeapCount; ++i)
    info.heaps.push_back({mem.memoryHeaps[i].size, (mem.memoryHeaps[i].flags & VK_MEMORY_HEAP_DEVICE_LOCAL_BIT) != 0});
  info.subgroupSize = subgroup.subgroupSize;
  info.subgroupShuffle =
      (subgroup.supportedOperations & VK_SUBGROUP_FEATURE_SHUFFLE_BIT) && (subgroup.supportedStages & VK_SHADER_STAGE_COMPUTE_BIT);
  info.maxSharedMemory = props.properties.limits.maxComputeSharedMemorySize;
  info.fp16 = f16i8.shaderFloat16;
  info.int8 = f16i8.shaderInt8;
  info.integerDot = hasDot && dotFeatures.shaderIntegerDotProduct;
  info.integerDotAccelerated = hasDot && dotProps.integerDotProduct4x8BitPackedSignedAccelerated;
  info.integerDotKernels = info.integerDot && info.subgroupShuffle && info.subgroupSize >= 8;
  info.cooperativeMatrix = hasDeviceExtension(pd, "VK_KHR_cooperative_matrix") || hasCoopmatNV;
  info.cooperativeMatrixPrefill =
      hasCoopmatNV && coopmatFeatures.cooperativeMatrix && (coopmatProps.cooperativeMatrixSupportedStages & VK_SHADER_STAGE_COMPUTE_BIT) &&
      info.fp16 && memoryModel.vulkanMemoryModel && v >= VK_API_VERSION_1_2 && info.subgroupSize == 32 && hasCoopmatShape(instance, pd);
  return info;
}

}  // namespace

std::vector<DeviceInfo> VkContext::listDevices() {
  VkInstance instance = createInstance(false, false);
  std::vector<DeviceInfo> out;
  try {
    auto devices = physicalDevices(instance);
    for (uint32_t i = 0; i < devices.size(); ++i) out.push_back(describe(instance, devices[i], i));
  } catch (...) {
    vkDestroyInstance(instance, nullptr);
    throw;
  }
  vkDestroyInstance(instance, nullptr);
  return out;
}

VkContext::VkContext(const Options& options) : memoryBudget_(options.memoryBudget) {
  validationEnabled_ = options.validation && layerAvailable(kValidationLayer);
  if (options.validation && !validationEnabled_) {
    throw NativeError("VULKAN",
                      "the Khronos validation layer was requested but is not installed: "
                      "sudo apt-get install -y vulkan-validationlayers");
  }
  instance_ = createInstance(validationEnabled_, options.syncValidation);
  try {
    if (validationEnabled_) {
      auto create =
          reinterpret_cast<PFN_vkCreateDebugUtilsMessengerEXT>(vkGetInstanceProcAddr(instance_, "vkCreateDebugUtilsMessengerEXT"));
      if (!create) throw NativeError("VULKAN", "VK_EXT_debug_utils is not available with the validation layer");
      VkDebugUtilsMessengerCreateInfoEXT mci{VK_STRUCTURE_TYPE_DEBUG_UTILS_MESSENGER_CREATE_INFO_EXT};
      mci.messageSeverity = VK_DEBUG_UTILS_MESSAGE_SEVERITY_WARNING_BIT_EXT | VK_DEBUG_UTILS_MESSAGE_SEVERITY_ERROR_BIT_EXT;
      mci.messageType = VK_DEBUG_UTILS_MESSAGE_TYPE_GENERAL_BIT_EXT | VK_DEBUG_UTILS_MESSAGE_TYPE_VALIDATION_BIT_EXT |
                        VK_DEBUG_UTILS_MESSAGE_TYPE_PERFORMANCE_BIT_EXT;
      mci.pfnUserCallback = onDebugMessage;
      mci.pUserData = this;
      VK_CHECK(create(instance_, &mci, nullptr, &messenger_));
    }

    auto devices = physicalDevices(instance_);
    if (devices.empty()) {
      throw NativeError("NO_VULKAN_DEVICE",
                        "no Vulkan device found; install a GPU driver, or Mesa's lavapipe on machines without a GPU: "
                        "sudo apt-get install -y mesa-vulkan-drivers");
    }
    int chosen = -1;
    if (options.device.empty()) {
      int bestRank = -1;
      for (uint32_t i = 0; i < devices.size(); ++i) {
        VkPhysicalDeviceProperties p;
        vkGetPhysicalDeviceProperties(devices[i], &p);
        if (typeRank(p.deviceType) > bestRank) {
          bestRank = typeRank(p.deviceType);
          chosen = int(i);
        }
      }
    } else {
      bool numeric = std::all_of(options.device.begin(), options.device.end(), ::isdigit);
      for (uint32_t i = 0; i < devices.size() && chosen < 0; ++i) {
        VkPhysicalDeviceProperties p;
        vkGetPhysicalDeviceProperties(devices[i], &p);
        if (numeric ? std::to_string(i) == options.device : std::string(p.deviceName).find(options.device) != std::string::npos)
          chosen = int(i);
      }
      if (chosen < 0) throw NativeError("NO_VULKAN_DEVICE", "no Vulkan device matches \"" + options.device + "\" (see `parley devices`)");
    }
    physical_ = devices[chosen];
    info_ = describe(instance_, physical_, uint32_t(chosen));
    vkGetPhysicalDeviceMemoryProperties(physical_, &memProps_);

    // Prefer a compute-only queue family (it does not compete with the game's graphics queue).
    uint32_t familyCount = 0;
    vkGetPhysicalDeviceQueueFamilyProperties(physical_, &familyCount, nullptr);
    std::vector<VkQueueFamilyProperties> families(familyCount);
    vkGetPhysicalDeviceQueueFamilyProperties(physical_, &familyCount, families.data());
    int family = -1;
    for (uint32_t i = 0; i < familyCount; ++i)
      if ((families[i].queueFlags & VK_QUEUE_COMPUTE_BIT) && !(families[i].queueFlags & VK_QUEUE_GRAPHICS_BIT)) family = int(i);
    if (family < 0)
      for (uint32_t i = 0; i < familyCount && family < 0; ++i)
        if (families[i].queueFlags & VK_QUEUE_COMPUTE_BIT) family = int(i);
    if (family < 0) throw NativeError("NO_VULKAN_DEVICE", info_.name + " has no compute queue");
    queueFamily_ = uint32_t(family);

    float priority = 1.0f;
    VkDeviceQueueCreateInfo qci{VK_STRUCTURE_TYPE_DEVICE_QUEUE_CREATE_INFO};
    qci.queueFamilyIndex = queueFamily_;
    qci.queueCount = 1;
    qci.pQueuePriorities = &priority;
    VkDeviceCreateInfo dci{VK_STRUCTURE_TYPE_DEVICE_CREATE_INFO};
    dci.queueCreateInfoCount = 1;
    dci.pQueueCreateInfos = &qci;
    // Optional features, each where the device has it: fp16 arithmetic (the cooperative-matrix prefill, and its
    // emulation, stage fp16 values in shared memory); the 4×8-bit integer dot product (the DOT8 kernels);
    // cooperative matrices with the Vulkan memory model their kernel's SPIR-V declares.
    std::vector<const char*> extensions;
    void* chain = nullptr;
    auto link = [&chain](auto& features) {
      features.pNext = chain;
      chain = &features;
    };
    VkPhysicalDeviceShaderFloat16Int8Features f16Features{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_SHADER_FLOAT16_INT8_FEATURES};
    if (info_.fp16) {
      f16Features.shaderFloat16 = VK_TRUE;
      link(f16Features);
    }
    VkPhysicalDeviceShaderIntegerDotProductFeatures dotFeatures{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_SHADER_INTEGER_DOT_PRODUCT_FEATURES};
    if (info_.integerDot) {
      dotFeatures.shaderIntegerDotProduct = VK_TRUE;
      link(dotFeatures);
      extensions.push_back("VK_KHR_shader_integer_dot_product");
    }
    VkPhysicalDeviceCooperativeMatrixFeaturesNV coopmatFeatures{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_COOPERATIVE_MATRIX_FEATURES_NV};
    VkPhysicalDeviceVulkanMemoryModelFeatures memoryModel{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_VULKAN_MEMORY_MODEL_FEATURES};
    if (info_.cooperativeMatrixPrefill) {
      coopmatFeatures.cooperativeMatrix = VK_TRUE;
      link(coopmatFeatures);
      memoryModel.vulkanMemoryModel = VK_TRUE;
      link(memoryModel);
      extensions.push_back("VK_NV_cooperative_matrix");
    }
    dci.pNext = chain;
    dci.enabledExtensionCount = uint32_t(extensions.size());
    dci.ppEnabledExtensionNames = extensions.data();
    VkResult created = vkCreateDevice(physical_, &dci, nullptr, &device_);
    if ((created == VK_ERROR_FEATURE_NOT_PRESENT || created == VK_ERROR_EXTENSION_NOT_PRESENT) && info_.cooperativeMatrixPrefill) {
      // A driver that lists cooperative matrices but refuses them: run without (the prefill keeps its other
      // kernels) rather than not at all. Its two structures, linked last, head the chain: skip them.
      info_.cooperativeMatrixPrefill = false;
      dci.pNext = coopmatFeatures.pNext;
      extensions.pop_back();
      dci.enabledExtensionCount = uint32_t(extensions.size());
      created = vkCreateDevice(physical_, &dci, nullptr, &device_);
    }
    VK_CHECK(created);
    vkGetDeviceQueue(device_, queueFamily_, 0, &queue_);

    VkPhysicalDeviceProperties props;
    vkGetPhysicalDeviceProperties(physical_, &props);
    pipelineCache_ = std::make_unique<PipelineCache>(device_, props, options.pipelineCacheDir);
  } catch (...) {
    pipelineCache_.reset();
    if (device_) vkDestroyDevice(device_, nullptr);
    if (messenger_) {
      auto destroy =
          reinterpret_cast<PFN_vkDestroyDebugUtilsMessengerEXT>(vkGetInstanceProcAddr(instance_, "vkDestroyDebugUtilsMessengerEXT"));
      if (destroy) destroy(instance_, messenger_, nullptr);
    }
    vkDestroyInstance(instance_, nullptr);
    throw;
  }
}

VkContext::~VkContext() {
  // Nothing can be reported from a destructor; a lost device still gets its objects destroyed.
  if (device_) (void)vkDeviceWaitIdle(device_);
  kernels_.clear();
  if (pipelineCache_) {
    pipelineCache_->save();  // no-op when the data did not change; failures land in its stats
    pipelineCache_.reset();
  }
  if (device_) vkDestroyDevice(device_, nullptr);
  if (messenger_) {
    auto destroy =
        reinterpret_cast<PFN_vkDestroyDebugUtilsMessengerEXT>(vkGetInstanceProcAddr(instance_, "vkDestroyDebugUtilsMessengerEXT"));
    if (destroy) destroy(instance_, messenger_, nullptr);
  }
  if (instance_) vkDestroyInstance(instance_, nullptr);
}

void VkContext::submit(const VkSubmitInfo& submitInfo, VkFence fence) {
  std::lock_guard<std::mutex> lock(queueMutex_);
  VK_CHECK(vkQueueSubmit(queue_, 1, &submitInfo, fence));
}

uint32_t VkContext::memoryType(uint32_t typeBits, VkMemoryPropertyFlags required, VkMemoryPropertyFlags preferred) const {
  for (int pass = 0; pass < 2; ++pass) {
    VkMemoryPropertyFlags want = pass == 0 ? (required | preferred) : required;
    for (uint32_t i = 0; i < memProps_.memoryTypeCount; ++i) {
      if ((typeBits & (1u << i)) && (memProps_.memoryTypes[i].propertyFlags & want) == want) return i;
    }
  }
  throw NativeError("OUT_OF_DEVICE_MEMORY", "no suitable Vulkan memory type for a buffer on " + info_.name);
}

void VkContext::reserveDeviceMemory(uint64_t bytes, uint32_t memoryType) {
  const uint64_t heap = memProps_.memoryHeaps[memProps_.memoryTypes[memoryType].heapIndex].size;
  const uint64_t limit = memoryBudget_ ? std::min(memoryBudget_, heap) : heap;
  uint64_t inUse = deviceBytes_.load();
  do {
    if (inUse + bytes > limit) {
      auto mib = [](uint64_t b) { return std::to_string((b + (1 << 20) - 1) >> 20) + " MiB"; };
      throw NativeError("OUT_OF_DEVICE_MEMORY",
                        "out of device memory: " + mib(bytes) + " more would exceed the " +
                            (memoryBudget_ && memoryBudget_ < heap ? "memory budget of " : "device heap of ") + mib(limit) + " (" +
                            mib(inUse) + " in use); use a smaller model or context",
                        "VK_ERROR_OUT_OF_DEVICE_MEMORY");
    }
  } while (!deviceBytes_.compare_exchange_weak(inUse, inUse + bytes));
}

void VkContext::releaseDeviceMemory(uint64_t bytes) {
  deviceBytes_.fetch_sub(bytes);
}

Kernel& VkContext::kernel(const KernelKey& key) {
  std::lock_guard<std::mutex> lock(kernelMutex_);
  auto it = kernels_.find(key);
  if (it == kernels_.end()) throw NativeError("VULKAN", "internal: kernel " + key.name() + " is used without having been prepared");
  return *it->second;
}

void VkContext::prepareKernels(const std::vector<KernelKey>& keys, uint32_t threads) {
  std::vector<KernelKey> missing;
  {
    std::lock_guard<std::mutex> lock(kernelMutex_);
    std::unordered_set<KernelKey, KernelKeyHash> seen;
    for (const KernelKey& k : keys)
      if (!kernels_.count(k) && seen.insert(k).second) missing.push_back(k);
  }
  if (missing.empty()) return;
  // Creating pipelines from several threads at once is allowed: the device and the pipeline cache (created
  // without VK_PIPELINE_CACHE_CREATE_EXTERNALLY_SYNCHRONIZED_BIT) synchronize themselves. Each kernel is built
  // by exactly one thread, into its own slot; the map is filled under the lock afterwards.
  const auto start = std::chrono::steady_clock::now();
  std::vector<std::unique_ptr<Kernel>> built(missing.size());
  std::vector<std::exception_ptr> errors(missing.size());
  std::atomic<size_t> next{0};
  auto work = [&] {
    for (size_t i; (i = next.fetch_add(1)) < missing.size();) {
      try {
        built[i] = std::make_unique<Kernel>(*this, missing[i]);
      } catch (...) {
        errors[i] = std::current_exception();
      }
    }
  };
  std::vector<std::thread> helpers;
  const size_t wanted = std::min<size_t>(missing.size(), std::max(1u, threads)) - 1;
  for (size_t t = 0; t < wanted; ++t) {
    try {
      helpers.emplace_back(work);
    } catch (...) {
      break;  // no more threads to be had: the ones running (and this one) take the rest
    }
  }
  work();
  for (std::thread& t : helpers) t.join();
  {
    std::lock_guard<std::mutex> lock(kernelMutex_);
    for (size_t i = 0; i < missing.size(); ++i) {
      // An entry another caller added meanwhile stays (this thread's copy is destroyed with `built`).
      if (built[i] && kernels_.emplace(missing[i], std::move(built[i])).second) buildStats_.kernels++;
    }
    buildStats_.wallMs += std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
    buildStats_.maxThreads = std::max(buildStats_.maxThreads, uint32_t(helpers.size() + 1));
  }
  for (const std::exception_ptr& e : errors)
    if (e) std::rethrow_exception(e);
  // Keep what was just compiled on disk now rather than only at dispose, so a game that is killed or crashes
  // later (a debugger stop, a crash elsewhere) still starts warm next time. Only new data is written; never throws.
  if (deferredSaves_.load() <= 0) savePipelineCache();
}

std::vector<ValidationMessage> VkContext::takeValidationMessages() {
  std::lock_guard<std::mutex> lock(messagesMutex_);
  std::vector<ValidationMessage> out;
  out.swap(messages_);
  return out;
}

void VkContext::addValidationMessage(ValidationMessage m) {
  std::lock_guard<std::mutex> lock(messagesMutex_);
  if (messages_.size() < 1000) messages_.push_back(std::move(m));
}

void computeBarrier(VkCommandBuffer cmd) {
  VkMemoryBarrier mb{VK_STRUCTURE_TYPE_MEMORY_BARRIER};
  mb.srcAccessMask = VK_ACCESS_SHADER_WRITE_BIT;
  mb.dstAccessMask = VK_ACCESS_SHADER_READ_BIT | VK_ACCESS_SHADER_WRITE_BIT;
  vkCmdPipelineBarrier(cmd, VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT, VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT, 0, 1, &mb, 0, nullptr, 0, nullptr);
}
