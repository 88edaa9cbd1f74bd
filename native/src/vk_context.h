// The Vulkan instance, the chosen physical device, its logical device and compute queue, plus the
// compute kernels (pipelines) built from the embedded SPIR-V. One VkContext per Runtime.
#pragma once
#include <vulkan/vulkan.h>
#include <atomic>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "kernel_key.h"
#include "pipeline_cache.h"

struct MemoryHeapInfo {
  uint64_t size;
  bool deviceLocal;
};

struct DeviceInfo {
  uint32_t index;
  std::string name;
  std::string type;  // "discrete" | "integrated" | "virtual" | "cpu" | "other"
  std::string driverName;
  std::string driverInfo;
  std::string apiVersion;
  uint32_t vendorId;
  uint32_t deviceId;
  std::vector<MemoryHeapInfo> heaps;
  uint32_t subgroupSize;
  bool subgroupShuffle;  // compute shaders have subgroup shuffles (attention_prefill.comp uses them)
  uint32_t maxSharedMemory;
  bool fp16;
  bool int8;
  bool integerDot;             // VK_KHR_shader_integer_dot_product present
  bool integerDotAccelerated;  // 4x8-bit packed signed dot product runs in hardware
  // The integer dot product kernels (matvec_dot8_*, matmul_tiled_dot8_*) can run: integerDot, and subgroup
  // shuffles on subgroups of at least 8 (they find each 32-value block's largest |x| across 8 neighbouring
  // lanes; with 4-lane subgroups the decode kernel's third shuffle would leave the subgroup).
  bool integerDotKernels;
  bool cooperativeMatrix;  // VK_KHR_cooperative_matrix or VK_NV_cooperative_matrix present
  // The cooperative-matrix prefill (matmul_coopmat.comp) can run: VK_NV_cooperative_matrix with 16 × 16 × 16
  // fp16 × fp16 → fp32 products at subgroup scope, fp16 arithmetic, the Vulkan memory model (the kernel's SPIR-V
  // uses it), Vulkan 1.2 and subgroups of 32. VK_KHR_cooperative_matrix alone does not count: the glslang
  // this project builds with cannot emit its kernels yet.
  bool cooperativeMatrixPrefill;
};

struct ValidationMessage {
  std::string severity;  // "error" | "warning"
  std::string text;
};

class Kernel;

class VkContext {
 public:
  struct Options {
    std::string device;  // empty: pick the best; a number: index; otherwise a substring of the name
    bool validation = false;
    // With validation, its synchronization checks too (addon.cpp: off with PARLEY_SYNC_VALIDATION=0).
    bool syncValidation = true;
    uint64_t memoryBudget = 0;     // device-local bytes this context may allocate; 0: the device's heaps
    std::string pipelineCacheDir;  // folder of the persistent pipeline cache; empty: no cache
  };

  static std::vector<DeviceInfo> listDevices();
  explicit VkContext(const Options& options);
  ~VkContext();
  VkContext(const VkContext&) = delete;
  VkContext& operator=(const VkContext&) = delete;

  VkDevice device() const { return device_; }
  VkPhysicalDevice physicalDevice() const { return physical_; }
  uint32_t queueFamily() const { return queueFamily_; }
  const DeviceInfo& info() const { return info_; }
  bool validationEnabled() const { return validationEnabled_; }

  // vkQueueSubmit must be externally synchronized: every submission goes through here.
  void submit(const VkSubmitInfo& submitInfo, VkFence fence);
  // Finds a memory type with all `required` flags, preferring one that also has `preferred`.
  uint32_t memoryType(uint32_t typeBits, VkMemoryPropertyFlags required, VkMemoryPropertyFlags preferred) const;
  const VkPhysicalDeviceMemoryProperties& memoryProperties() const { return memProps_; }

  // A kernel prepareKernels built; an internal error otherwise.
  Kernel& kernel(const KernelKey& key);
  // Builds those of `keys` not built yet, on up to `threads` threads at once (drivers compile a pipeline's
  // shader when it is created, and a first launch pays for every one), then saves the pipeline cache when that
  // changed it. The first failure is rethrown after every thread has finished; the kernels that did build are kept.
  void prepareKernels(const std::vector<KernelKey>& keys, uint32_t threads);
  // Kernels (pipelines) built so far, the wall-clock time spent building them, and the most threads that
  // built at once: how much of a launch went to compiling shaders.
  struct KernelBuildStats {
    uint64_t kernels = 0;
    double wallMs = 0;
    uint32_t maxThreads = 0;
  };
  KernelBuildStats kernelBuildStats() const {
    std::lock_guard<std::mutex> lock(kernelMutex_);
    return buildStats_;
  }
  // The pipeline cache kernels are created with (VK_NULL_HANDLE when disabled). Saved at teardown;
  // savePipelineCache() writes it now (when changed) and never throws.
  VkPipelineCache pipelineCache() const { return pipelineCache_ ? pipelineCache_->handle() : VK_NULL_HANDLE; }
  bool savePipelineCache() { return pipelineCache_ && pipelineCache_->save(); }
  // While deferred (nested calls count), prepareKernels leaves the cache file alone: Model.tune() builds ~17
  // sessions' pipelines and saves once at its end instead of after each.
  void deferPipelineCacheSaves(bool defer) { defer ? ++deferredSaves_ : --deferredSaves_; }
  PipelineCache::Stats pipelineCacheStats() const { return pipelineCache_ ? pipelineCache_->stats() : PipelineCache::Stats{}; }

  // Device-local memory accounting against the budget: reserve throws OUT_OF_DEVICE_MEMORY when the
  // allocation would exceed the budget or the heap, so a game can cap what the model takes.
  void reserveDeviceMemory(uint64_t bytes, uint32_t memoryType);
  void releaseDeviceMemory(uint64_t bytes);
  uint64_t deviceMemoryInUse() const { return deviceBytes_.load(); }

  std::vector<ValidationMessage> takeValidationMessages();
  void addValidationMessage(ValidationMessage m);

 private:
  VkInstance instance_ = VK_NULL_HANDLE;
  VkDebugUtilsMessengerEXT messenger_ = VK_NULL_HANDLE;
  VkPhysicalDevice physical_ = VK_NULL_HANDLE;
  VkDevice device_ = VK_NULL_HANDLE;
  VkQueue queue_ = VK_NULL_HANDLE;
  uint32_t queueFamily_ = 0;
  DeviceInfo info_;
  VkPhysicalDeviceMemoryProperties memProps_{};
  bool validationEnabled_ = false;
  uint64_t memoryBudget_ = 0;
  std::atomic<uint64_t> deviceBytes_{0};
  std::atomic<int> deferredSaves_{0};
  std::mutex queueMutex_;
  mutable std::mutex kernelMutex_;
  std::unordered_map<KernelKey, std::unique_ptr<Kernel>, KernelKeyHash> kernels_;
  KernelBuildStats buildStats_;
  std::unique_ptr<PipelineCache> pipelineCache_;
  std::mutex messagesMutex_;
  std::vector<ValidationMessage> messages_;
};

void computeBarrier(VkCommandBuffer cmd);
