// A VkBuffer with its own memory. Device-local buffers hold weights, activations and the KV cache;
// host-visible ones hold per-step parameters, input tokens and read-back results.
#pragma once
#include <vulkan/vulkan.h>
#include <cstddef>
#include <cstdint>
#include <vector>

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

// Copies host data into device-local buffers through a staging buffer in two halves: while the device copies
// one half's regions, the caller fills the other (a model load's file reading and repacking overlap its
// transfers instead of waiting for each).
class Uploader {
 public:
  // `stagingSize`: the bytes of each half (so the most one reserve() takes).
  explicit Uploader(VkContext& ctx, VkDeviceSize stagingSize = 32ull << 20);
  ~Uploader();  // waits for copies still in flight
  Uploader(const Uploader&) = delete;
  Uploader& operator=(const Uploader&) = delete;
  // Returns a pointer where the caller writes `size` bytes that will land at dst[dstOffset].
  // size must be <= stagingSize(); submits the current half first when it is full.
  uint8_t* reserve(VkBuffer dst, VkDeviceSize dstOffset, VkDeviceSize size);
  void upload(VkBuffer dst, VkDeviceSize dstOffset, const void* data, VkDeviceSize size);
  // Submits what is pending and waits until every copy is done (and visible to compute shaders).
  void flush();
  VkDeviceSize stagingSize() const { return half_; }

 private:
  struct Pending {
    VkBuffer dst;
    VkBufferCopy region;
  };
  struct Half {
    VkCommandBuffer cmd = VK_NULL_HANDLE;
    VkFence fence = VK_NULL_HANDLE;
    bool inFlight = false;
    std::vector<Pending> pending;
  };
  void submit(Half& h);  // records and submits h's copies (none: nothing)
  void wait(Half& h);    // until h's copies are done; then its bytes may be overwritten
  void release();
  VkContext& ctx_;
  VkDeviceSize half_;
  Buffer staging_;
  Half halves_[2];
  int current_ = 0;        // the half reserve() fills
  VkDeviceSize used_ = 0;  // bytes of the current half taken
  VkCommandPool pool_ = VK_NULL_HANDLE;
};
