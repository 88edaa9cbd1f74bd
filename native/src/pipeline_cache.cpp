#include "pipeline_cache.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>

#include "vk_check.h"

namespace {

// A pipeline cache larger than this is not ours (or not sane): ignore it rather than allocate it.
constexpr uint64_t kMaxFileBytes = 256ull << 20;
constexpr size_t kHeaderBytes = 32;  // sizeof(VkPipelineCacheHeaderVersionOne)

std::string errnoText(const std::string& what, const std::string& path, int err) {
  return what + " " + path + ": " + std::strerror(err);
}

// The header's fields are little-endian regardless of the host's byte order (Vulkan spec).
uint32_t readLe32(const uint8_t* p) {
  return uint32_t(p[0]) | uint32_t(p[1]) << 8 | uint32_t(p[2]) << 16 | uint32_t(p[3]) << 24;
}

std::string joinPath(const std::string& folder, const std::string& name) {
  if (!folder.empty() && folder.back() == '/') return folder + name;
  return folder + "/" + name;
}

// Reads the whole file. Returns false with `error` set on a failure other than "absent".
bool readFile(const std::string& path, std::vector<uint8_t>& out, std::string& error) {
  out.clear();
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    if (errno != ENOENT) error = errnoText("cannot open", path, errno);
    return false;
  }
  struct stat st;
  if (::fstat(fd, &st) != 0) {
    error = errnoText("cannot stat", path, errno);
    ::close(fd);
    return false;
  }
  if (!S_ISREG(st.st_mode) || uint64_t(st.st_size) > kMaxFileBytes) {
    error = "ignoring " + path + ": not a regular file of at most 256 MiB";
    ::close(fd);
    return false;
  }
  out.resize(size_t(st.st_size));
  size_t done = 0;
  while (done < out.size()) {
    ssize_t n = ::read(fd, out.data() + done, out.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      error = errnoText("cannot read", path, errno);
      ::close(fd);
      out.clear();
      return false;
    }
    if (n == 0) break;  // shrank while reading: what we have is checked like any other data
    done += size_t(n);
  }
  out.resize(done);
  ::close(fd);
  return true;
}

// Writes `data` to `path` atomically: a temporary file in the same folder, fsync, rename over `path`,
// fsync the folder. Readers see the old file or the new one, never a torn one.
bool writeFileAtomically(const std::string& path, const std::vector<uint8_t>& data, std::string& error) {
  static std::atomic<uint32_t> counter{0};
  const std::string tmp = path + ".tmp-" + std::to_string(::getpid()) + "-" + std::to_string(counter++);
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (fd < 0) {
    error = errnoText("cannot create", tmp, errno);
    return false;
  }
  auto fail = [&](const char* what) {
    error = errnoText(what, tmp, errno);
    ::close(fd);
    ::unlink(tmp.c_str());
    return false;
  };
  size_t done = 0;
  while (done < data.size()) {
    ssize_t n = ::write(fd, data.data() + done, data.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return fail("cannot write");
    done += size_t(n);
  }
  if (::fsync(fd) != 0) return fail("cannot fsync");
  if (::close(fd) != 0) {
    error = errnoText("cannot close", tmp, errno);
    ::unlink(tmp.c_str());
    return false;
  }
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    error = errnoText("cannot rename to " + path + ":", tmp, errno);
    ::unlink(tmp.c_str());
    return false;
  }
  // Make the rename itself durable; a failure here leaves a valid file, so it is not an error.
  std::string folder = std::filesystem::path(path).parent_path().string();
  int dfd = ::open(folder.empty() ? "." : folder.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd >= 0) {
    (void)::fsync(dfd);
    ::close(dfd);
  }
  return true;
}

}  // namespace

std::string PipelineCache::fileName(const VkPhysicalDeviceProperties& props) {
  char head[32];
  std::snprintf(head, sizeof head, "%04x-%04x-", props.vendorID, props.deviceID);
  std::string name = head;
  static const char* hex = "0123456789abcdef";
  for (uint8_t b : props.pipelineCacheUUID) {
    name += hex[b >> 4];
    name += hex[b & 15];
  }
  return name + ".vkpipelinecache";
}

bool PipelineCache::headerMatches(const std::vector<uint8_t>& data, const VkPhysicalDeviceProperties& props) {
  if (data.size() < kHeaderBytes) return false;
  const uint32_t headerSize = readLe32(&data[0]);
  const uint32_t headerVersion = readLe32(&data[4]);
  const uint32_t vendorID = readLe32(&data[8]);
  const uint32_t deviceID = readLe32(&data[12]);
  return headerSize >= kHeaderBytes && headerSize <= data.size() && headerVersion == uint32_t(VK_PIPELINE_CACHE_HEADER_VERSION_ONE) &&
         vendorID == props.vendorID && deviceID == props.deviceID && std::memcmp(&data[16], props.pipelineCacheUUID, VK_UUID_SIZE) == 0;
}

PipelineCache::PipelineCache(VkDevice device, const VkPhysicalDeviceProperties& props, const std::string& folder)
    : device_(device), props_(props) {
  if (folder.empty()) return;
  stats_.path = joinPath(folder, fileName(props));

  std::error_code ec;
  std::filesystem::create_directories(folder, ec);
  if (ec) stats_.error = "cannot create " + folder + ": " + ec.message();

  std::vector<uint8_t> data;
  std::string readError;
  if (readFile(stats_.path, data, readError)) {
    if (headerMatches(data, props)) {
      stats_.hit = true;
    } else {
      data.clear();  // another device's, another driver version's, truncated or garbage: start empty
    }
  } else if (!readError.empty() && stats_.error.empty()) {
    stats_.error = readError;
  }

  VkPipelineCacheCreateInfo ci{VK_STRUCTURE_TYPE_PIPELINE_CACHE_CREATE_INFO};
  if (stats_.hit) {
    ci.initialDataSize = data.size();
    ci.pInitialData = data.data();
    VkResult r = vkCreatePipelineCache(device_, &ci, nullptr, &cache_);
    if (r == VK_SUCCESS) {
      stats_.loadedBytes = data.size();
      onDisk_ = std::move(data);
      return;
    }
    // The driver refused data whose header matched: start empty, as with a mismatching file.
    stats_.hit = false;
    stats_.error = std::string("vkCreatePipelineCache rejected ") + stats_.path + " (" + vkResultName(r) + ")";
    cache_ = VK_NULL_HANDLE;
    ci.initialDataSize = 0;
    ci.pInitialData = nullptr;
  }
  VK_CHECK(vkCreatePipelineCache(device_, &ci, nullptr, &cache_));
}

PipelineCache::~PipelineCache() {
  if (cache_) vkDestroyPipelineCache(device_, cache_, nullptr);
}

bool PipelineCache::save() noexcept {
  if (!cache_) return false;
  std::lock_guard<std::mutex> lock(mutex_);
  try {
    std::vector<uint8_t> data;
    VkResult r = VK_INCOMPLETE;
    // The size can grow between the two calls when another thread creates a pipeline meanwhile.
    for (int attempt = 0; attempt < 4 && r == VK_INCOMPLETE; ++attempt) {
      size_t size = 0;
      r = vkGetPipelineCacheData(device_, cache_, &size, nullptr);
      if (r != VK_SUCCESS) break;
      data.resize(size);
      if (size == 0) break;
      r = vkGetPipelineCacheData(device_, cache_, &size, data.data());
      data.resize(size);
    }
    if (r != VK_SUCCESS) {
      stats_.error = std::string("vkGetPipelineCacheData returned ") + vkResultName(r);
      return false;
    }
    if (data.size() < kHeaderBytes || data == onDisk_) return false;
    std::string error;
    if (!writeFileAtomically(stats_.path, data, error)) {
      stats_.error = error;
      return false;
    }
    stats_.savedBytes = data.size();
    stats_.writes++;
    onDisk_ = std::move(data);
    return true;
  } catch (const std::exception& e) {  // out of host memory
    try {
      stats_.error = std::string("cannot save the pipeline cache: ") + e.what();
    } catch (...) {
    }
    return false;
  }
}

PipelineCache::Stats PipelineCache::stats() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return stats_;
}
