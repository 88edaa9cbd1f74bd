// A VkPipelineCache persisted in a file, so the driver can skip compiling the compute kernels again
// in the next process. One per VkContext. The file is named after the device and driver
// (<vendorID>-<deviceID>-<pipelineCacheUUID>.vkpipelinecache), so different GPUs and driver versions
// keep separate files. A file whose header does not match this device, or that is truncated or
// garbage, is ignored (the cache starts empty) and replaced at the next save. The cache is an
// optimization: file-system failures never throw, they are reported in stats().error.
#pragma once
#include <vulkan/vulkan.h>
#include <cstdint>
#include <mutex>
#include <string>
#include <vector>

class PipelineCache {
 public:
  struct Stats {
    std::string path;          // the cache file; empty when disabled
    uint64_t loadedBytes = 0;  // bytes of the file the cache was created from (0 unless hit)
    uint64_t savedBytes = 0;   // bytes this context last wrote to the file (0: nothing written)
    uint32_t writes = 0;       // times this context wrote the file
    bool hit = false;          // the file existed and its header matched this device
    std::string error;         // the last file-system or Vulkan failure reading or writing the file
  };

  // `folder` empty: disabled (handle() is VK_NULL_HANDLE and nothing is read or written). Otherwise the
  // folder is created when missing. Throws NativeError only when vkCreatePipelineCache fails even empty.
  PipelineCache(VkDevice device, const VkPhysicalDeviceProperties& props, const std::string& folder);
  ~PipelineCache();  // destroys the handle; does not save (the owner calls save() first)
  PipelineCache(const PipelineCache&) = delete;
  PipelineCache& operator=(const PipelineCache&) = delete;

  VkPipelineCache handle() const { return cache_; }
  // Writes the cache's data to the file (temporary file in the same folder, fsync, rename) when it
  // differs from what the file is known to hold. Returns true when the file was written. Never throws.
  bool save() noexcept;
  Stats stats() const;

  // The file name for a device: <vendorID hex>-<deviceID hex>-<pipelineCacheUUID hex>.vkpipelinecache.
  static std::string fileName(const VkPhysicalDeviceProperties& props);
  // True when `data` starts with a VkPipelineCacheHeaderVersionOne for this device.
  static bool headerMatches(const std::vector<uint8_t>& data, const VkPhysicalDeviceProperties& props);

 private:
  VkDevice device_;
  VkPipelineCache cache_ = VK_NULL_HANDLE;
  VkPhysicalDeviceProperties props_;
  mutable std::mutex mutex_;
  Stats stats_;
  std::vector<uint8_t> onDisk_;  // what the file holds as far as we know (empty: unknown or absent)
};
