// A GPU timestamp after every dispatch of a recording, and after its submission the time per kernel printed to
// stderr (and, with `everyDispatch`, each dispatch's). Sessions profile on PARLEY_PROFILE=1 (PARLEY_PROFILE_ALL).
#pragma once
#include <vulkan/vulkan.h>
#include <string>
#include <vector>

class VkContext;

class Profile {
 public:
  static constexpr uint32_t kMaxTimestamps = 4096;
  Profile() = default;  // off: records nothing
  Profile(VkContext& ctx, bool everyDispatch);
  ~Profile();
  Profile(const Profile&) = delete;
  Profile& operator=(const Profile&) = delete;

  bool enabled() const { return pool_ != VK_NULL_HANDLE; }
  // The recording's start: resets the query pool and writes the first timestamp.
  void start(VkCommandBuffer cmd);
  // After a dispatch of `kernel` (the first kMaxTimestamps - 1 of a recording).
  void stamp(VkCommandBuffer cmd, const std::string& kernel);
  // Reads the timestamps of the last submission that ran the recording and prints them.
  void print() const;

 private:
  VkContext* ctx_ = nullptr;
  VkQueryPool pool_ = VK_NULL_HANDLE;
  bool everyDispatch_ = false;
  std::vector<std::string> names_;  // the kernel of each timestamp after the first
};
