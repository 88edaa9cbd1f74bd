#include "profile.h"

#include <cstdio>
#include <map>

#include "vk_check.h"
#include "vk_context.h"

Profile::Profile(VkContext& ctx, bool everyDispatch) : ctx_(&ctx), everyDispatch_(everyDispatch) {
  VkQueryPoolCreateInfo qpi{VK_STRUCTURE_TYPE_QUERY_POOL_CREATE_INFO};
  qpi.queryType = VK_QUERY_TYPE_TIMESTAMP;
  qpi.queryCount = kMaxTimestamps;
  VK_CHECK(vkCreateQueryPool(ctx.device(), &qpi, nullptr, &pool_));
}

Profile::~Profile() {
  if (pool_) vkDestroyQueryPool(ctx_->device(), pool_, nullptr);
}

void Profile::start(VkCommandBuffer cmd) {
  if (!enabled()) return;
  names_.clear();
  vkCmdResetQueryPool(cmd, pool_, 0, kMaxTimestamps);
  vkCmdWriteTimestamp(cmd, VK_PIPELINE_STAGE_TOP_OF_PIPE_BIT, pool_, 0);
}

void Profile::stamp(VkCommandBuffer cmd, const std::string& kernel) {
  if (!enabled() || names_.size() + 1 >= kMaxTimestamps) return;
  names_.push_back(kernel);
  vkCmdWriteTimestamp(cmd, VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT, pool_, uint32_t(names_.size()));
}

void Profile::print() const {
  if (!enabled()) return;
  std::vector<uint64_t> ts(names_.size() + 1);
  VK_CHECK(vkGetQueryPoolResults(ctx_->device(), pool_, 0, uint32_t(ts.size()), ts.size() * 8, ts.data(), 8,
                                 VK_QUERY_RESULT_64_BIT | VK_QUERY_RESULT_WAIT_BIT));
  VkPhysicalDeviceProperties props;
  vkGetPhysicalDeviceProperties(ctx_->physicalDevice(), &props);
  const double nsPerTick = props.limits.timestampPeriod;
  std::map<std::string, std::pair<double, int>> perKernel;
  for (size_t i = 0; i < names_.size(); ++i) {
    auto& e = perKernel[names_[i]];
    e.first += double(ts[i + 1] - ts[i]) * nsPerTick / 1e6;
    e.second++;
  }
  std::string out = "[parley profile] total " + std::to_string(double(ts.back() - ts[0]) * nsPerTick / 1e6) + " ms:";
  for (auto& [name, e] : perKernel) out += " " + name + "=" + std::to_string(e.first) + "ms/" + std::to_string(e.second);
  if (everyDispatch_) {
    for (size_t i = 0; i < names_.size(); ++i)
      out += "\n  #" + std::to_string(i) + " " + names_[i] + " " + std::to_string(double(ts[i + 1] - ts[i]) * nsPerTick / 1e3) + " us";
  }
  std::fprintf(stderr, "%s\n", out.c_str());
}
