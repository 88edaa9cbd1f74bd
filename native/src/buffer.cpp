#include "buffer.h"

#include <cstdlib>
#include <cstring>
#include <vector>

#include "vk_check.h"
#include "vk_context.h"

Buffer::Buffer(VkContext& ctx, VkDeviceSize size, VkBufferUsageFlags usage, Kind kind) : ctx_(&ctx), size_(size) {
  VkDevice dev = ctx.device();
  VkBufferCreateInfo bci{VK_STRUCTURE_TYPE_BUFFER_CREATE_INFO};
  bci.size = size == 0 ? 4 : size;
  bci.usage = usage;
  bci.sharingMode = VK_SHARING_MODE_EXCLUSIVE;
  VK_CHECK(vkCreateBuffer(dev, &bci, nullptr, &buffer_));
  try {
    VkMemoryRequirements req;
    vkGetBufferMemoryRequirements(dev, buffer_, &req);
    VkMemoryPropertyFlags required = 0, preferred = 0;
    switch (kind) {
      case Kind::DeviceLocal:
        required = VK_MEMORY_PROPERTY_DEVICE_LOCAL_BIT;
        break;
      case Kind::HostVisible:  // small buffers the GPU reads or writes every step
        required = VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT | VK_MEMORY_PROPERTY_HOST_COHERENT_BIT;
        preferred = VK_MEMORY_PROPERTY_HOST_CACHED_BIT;
        break;
      case Kind::Staging:
        required = VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT | VK_MEMORY_PROPERTY_HOST_COHERENT_BIT;
        break;
    }
    VkMemoryAllocateInfo mai{VK_STRUCTURE_TYPE_MEMORY_ALLOCATE_INFO};
    mai.allocationSize = req.size;
    mai.memoryTypeIndex = ctx.memoryType(req.memoryTypeBits, required, preferred);
    if (kind == Kind::DeviceLocal) {
      ctx.reserveDeviceMemory(req.size, mai.memoryTypeIndex);
      accounted_ = req.size;
    }
    VK_CHECK(vkAllocateMemory(dev, &mai, nullptr, &memory_));
    VK_CHECK(vkBindBufferMemory(dev, buffer_, memory_, 0));
    if (kind != Kind::DeviceLocal) VK_CHECK(vkMapMemory(dev, memory_, 0, VK_WHOLE_SIZE, 0, &mapped_));
  } catch (...) {
    release();
    throw;
  }
}

Buffer::~Buffer() {
  release();
}

Buffer::Buffer(Buffer&& o) noexcept {
  *this = std::move(o);
}

Buffer& Buffer::operator=(Buffer&& o) noexcept {
  if (this != &o) {
    release();
    ctx_ = o.ctx_;
    buffer_ = o.buffer_;
    memory_ = o.memory_;
    size_ = o.size_;
    mapped_ = o.mapped_;
    accounted_ = o.accounted_;
    o.accounted_ = 0;
    o.buffer_ = VK_NULL_HANDLE;
    o.memory_ = VK_NULL_HANDLE;
    o.mapped_ = nullptr;
    o.size_ = 0;
  }
  return *this;
}

void Buffer::release() {
  if (!ctx_) return;
  VkDevice dev = ctx_->device();
  if (mapped_) vkUnmapMemory(dev, memory_);
  if (buffer_) vkDestroyBuffer(dev, buffer_, nullptr);
  if (memory_) vkFreeMemory(dev, memory_, nullptr);
  if (accounted_) ctx_->releaseDeviceMemory(accounted_);
  accounted_ = 0;
  buffer_ = VK_NULL_HANDLE;
  memory_ = VK_NULL_HANDLE;
  mapped_ = nullptr;
}

Uploader::Uploader(VkContext& ctx, VkDeviceSize stagingSize)
    : ctx_(ctx), half_(stagingSize), staging_(ctx, 2 * stagingSize, VK_BUFFER_USAGE_TRANSFER_SRC_BIT, Buffer::Kind::Staging) {
  try {
    VkCommandPoolCreateInfo pci{VK_STRUCTURE_TYPE_COMMAND_POOL_CREATE_INFO};
    pci.flags = VK_COMMAND_POOL_CREATE_RESET_COMMAND_BUFFER_BIT;
    pci.queueFamilyIndex = ctx.queueFamily();
    VK_CHECK(vkCreateCommandPool(ctx.device(), &pci, nullptr, &pool_));
    VkCommandBuffer cmds[2];
    VkCommandBufferAllocateInfo ai{VK_STRUCTURE_TYPE_COMMAND_BUFFER_ALLOCATE_INFO};
    ai.commandPool = pool_;
    ai.level = VK_COMMAND_BUFFER_LEVEL_PRIMARY;
    ai.commandBufferCount = 2;
    VK_CHECK(vkAllocateCommandBuffers(ctx.device(), &ai, cmds));
    for (int i = 0; i < 2; ++i) {
      halves_[i].cmd = cmds[i];
      VkFenceCreateInfo fci{VK_STRUCTURE_TYPE_FENCE_CREATE_INFO};
      VK_CHECK(vkCreateFence(ctx.device(), &fci, nullptr, &halves_[i].fence));
    }
  } catch (...) {
    release();
    throw;
  }
}

Uploader::~Uploader() {
  // Copies may still read the staging buffer: wait before it goes (errors here cannot be reported; a lost
  // device fails the wait at once).
  for (Half& h : halves_)
    if (h.inFlight) vkWaitForFences(ctx_.device(), 1, &h.fence, VK_TRUE, UINT64_MAX);
  release();
}

void Uploader::release() {
  for (Half& h : halves_) {
    if (h.fence) vkDestroyFence(ctx_.device(), h.fence, nullptr);
    h.fence = VK_NULL_HANDLE;
  }
  if (pool_) vkDestroyCommandPool(ctx_.device(), pool_, nullptr);
  pool_ = VK_NULL_HANDLE;
}

uint8_t* Uploader::reserve(VkBuffer dst, VkDeviceSize dstOffset, VkDeviceSize size) {
  if (size > half_) throw NativeError("VULKAN", "upload chunk larger than the staging buffer");
  // Keep each region 16-byte aligned in the staging buffer.
  VkDeviceSize start = (used_ + 15) & ~VkDeviceSize(15);
  if (start + size > half_) {
    // This half is full: the device copies it while the caller fills the other, once that one's copies are done.
    submit(halves_[current_]);
    current_ ^= 1;
    wait(halves_[current_]);
    used_ = 0;
    start = 0;
  }
  const VkDeviceSize at = VkDeviceSize(current_) * half_ + start;
  halves_[current_].pending.push_back({dst, VkBufferCopy{at, dstOffset, size}});
  used_ = start + size;
  return static_cast<uint8_t*>(staging_.mapped()) + at;
}

void Uploader::upload(VkBuffer dst, VkDeviceSize dstOffset, const void* data, VkDeviceSize size) {
  const uint8_t* src = static_cast<const uint8_t*>(data);
  while (size > 0) {
    VkDeviceSize chunk = size < half_ ? size : half_;
    std::memcpy(reserve(dst, dstOffset, chunk), src, size_t(chunk));
    src += chunk;
    dstOffset += chunk;
    size -= chunk;
  }
}

void Uploader::submit(Half& h) {
  if (h.pending.empty()) return;
  VK_CHECK(vkResetCommandBuffer(h.cmd, 0));
  VkCommandBufferBeginInfo bi{VK_STRUCTURE_TYPE_COMMAND_BUFFER_BEGIN_INFO};
  bi.flags = VK_COMMAND_BUFFER_USAGE_ONE_TIME_SUBMIT_BIT;
  VK_CHECK(vkBeginCommandBuffer(h.cmd, &bi));
  for (const Pending& p : h.pending) vkCmdCopyBuffer(h.cmd, staging_.handle(), p.dst, 1, &p.region);
  // Make the copies visible to the compute shaders that will read these buffers.
  VkMemoryBarrier mb{VK_STRUCTURE_TYPE_MEMORY_BARRIER};
  mb.srcAccessMask = VK_ACCESS_TRANSFER_WRITE_BIT;
  mb.dstAccessMask = VK_ACCESS_SHADER_READ_BIT;
  vkCmdPipelineBarrier(h.cmd, VK_PIPELINE_STAGE_TRANSFER_BIT, VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT, 0, 1, &mb, 0, nullptr, 0, nullptr);
  VK_CHECK(vkEndCommandBuffer(h.cmd));
  VkSubmitInfo si{VK_STRUCTURE_TYPE_SUBMIT_INFO};
  si.commandBufferCount = 1;
  si.pCommandBuffers = &h.cmd;
  ctx_.submit(si, h.fence);
  h.inFlight = true;
  h.pending.clear();
}

void Uploader::wait(Half& h) {
  if (!h.inFlight) return;
  VK_CHECK(vkWaitForFences(ctx_.device(), 1, &h.fence, VK_TRUE, UINT64_MAX));
  VK_CHECK(vkResetFences(ctx_.device(), 1, &h.fence));
  h.inFlight = false;
}

void Uploader::flush() {
  submit(halves_[current_]);
  wait(halves_[current_ ^ 1]);
  wait(halves_[current_]);
  used_ = 0;
}
