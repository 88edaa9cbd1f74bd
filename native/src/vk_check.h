// Every VkResult is checked; failures become NativeError with a stable code that the TypeScript layer
// maps to a typed error (runtime/native.ts).
#pragma once
#include <vulkan/vulkan.h>
#include <stdexcept>
#include <string>

struct NativeError : std::runtime_error {
  std::string code;      // matches ParleyErrorCode in runtime/errors.ts
  std::string vkResult;  // e.g. "VK_ERROR_DEVICE_LOST"; empty when not a Vulkan failure
  NativeError(std::string code_, const std::string& message, std::string vkResult_ = "")
      : std::runtime_error(message), code(std::move(code_)), vkResult(std::move(vkResult_)) {}
};

const char* vkResultName(VkResult r);
[[noreturn]] void throwVkError(VkResult r, const char* call);

#define VK_CHECK(expr)                                                         \
  do {                                                                         \
    VkResult vk_check_result_ = (expr);                                        \
    if (vk_check_result_ != VK_SUCCESS) throwVkError(vk_check_result_, #expr); \
  } while (0)
