// A VkBuffer with its own memory. Device-local buffers hold weights, activations and the KV cache;
// host-visible ones hold per-step parameters, input tokens and read-back results.
#pragma once
#include <vulkan/vulkan.h>
#include <cstddef>
#include <cstdint>

class VkContext;

class Buffer {
 public:
  enum class Kind { DeviceLocal, HostVisible, Staging };
  Buffer() = default;
  Buffer(VkContext& ctx, VkDeviceSize size, VkBufferUsageFlags usage, Kind kind);
  ~Buffer();
  Buffer(Buffer&& other) noexcept;
  Buffer& operator=(Buffer&& other) noexcept;
  Buffer(const Buffer&) = delete;
  Buffer& operator=(const Buffer&) = delete;

  VkBuffer handle() const { return buffer_; }
  VkDeviceSize size() const { return size_; }
  void* mapped() const { return mapped_; }  // non-null for HostVisible and Staging
  bool valid() const { return buffer_ != VK_NULL_HANDLE; }

 private:
  void release();
  VkContext* ctx_ = nullptr;
  VkBuffer buffer_ = VK_NULL_HANDLE;
  VkDeviceMemory memory_ = VK_NULL_HANDLE;
  VkDeviceSize size_ = 0;
  void* mapped_ = nullptr;
  uint64_t accounted_ = 0;  // device-local bytes reserved against the context's budget
};

// A byte range of a buffer, bound as a descriptor's offset and range. Activations that one stacked product
// writes share a buffer (one region each); every kernel that reads or writes one of them binds only its view
// and indexes it from 0. Offsets must be multiples of the device's minStorageBufferOffsetAlignment.
struct BufferView {
  const Buffer* buffer = nullptr;
  VkDeviceSize offset = 0;
  VkDeviceSize range = VK_WHOLE_SIZE;
  BufferView() = default;
  BufferView(const Buffer& b) : buffer(&b) {}  // implicit: the whole buffer
  BufferView(const Buffer& b, VkDeviceSize off, VkDeviceSize size) : buffer(&b), offset(off), range(size) {}
};

// Copies host data into device-local buffers through one reusable staging buffer.
class Uploader {
 public:
  explicit Uploader(VkContext& ctx, VkDeviceSize stagingSize = 64ull << 20);
  ~Uploader();
  // Returns a pointer where the caller writes `size` bytes that will land at dst[dstOffset].
  // size must be <= stagingSize(); flushes pending copies first when the staging buffer is full.
  uint8_t* reserve(VkBuffer dst, VkDeviceSize dstOffset, VkDeviceSize size);
  void upload(VkBuffer dst, VkDeviceSize dstOffset, const void* data, VkDeviceSize size);
  void flush();
  VkDeviceSize stagingSize() const { return staging_.size(); }

 private:
  struct Pending { VkBuffer dst; VkBufferCopy region; };
  VkContext& ctx_;
  Buffer staging_;
  VkDeviceSize used_ = 0;
  Pending* pending_ = nullptr;
  size_t pendingCount_ = 0, pendingCap_ = 0;
  VkCommandPool pool_ = VK_NULL_HANDLE;
  VkCommandBuffer cmd_ = VK_NULL_HANDLE;
  VkFence fence_ = VK_NULL_HANDLE;
};
