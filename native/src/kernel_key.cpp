#include "kernel_key.h"

#include "vk_check.h"

KernelKey::KernelKey(KernelId kernel, uint32_t weightType, std::initializer_list<uint32_t> values)
    : kernel(kernel), weightType(weightType) {
  const KernelInfo& k = info();
  if (values.size() > k.specConstants)
    throw NativeError("VULKAN", std::string("internal: kernel ") + k.name + " takes " + std::to_string(k.specConstants) +
                                    " specialization constants, got " + std::to_string(values.size()));
  for (uint32_t i = 0; i < k.specConstants; ++i) spec[i] = k.specDefaults[i];
  uint32_t i = 0;
  for (uint32_t v : values) spec[i++] = v;
  variant();  // a variant that was never compiled is an internal error here, not at pipeline creation
}

size_t KernelKey::variant() const {
  for (size_t i = 0; i < sizeof(kKernelVariants) / sizeof(kKernelVariants[0]); ++i)
    if (kKernelVariants[i].kernel == kernel && kKernelVariants[i].weightType == weightType) return i;
  throw NativeError("VULKAN", std::string("internal: kernel ") + info().name + " has no variant for weight type " +
                                  (weightType == kNoWeightType ? std::string("(none)") : std::to_string(weightType)));
}

std::string KernelKey::name() const {
  std::string out = kKernelVariants[variant()].name;
  for (uint32_t i = 0; i < info().specConstants; ++i) out += "#" + std::to_string(spec[i]);
  return out;
}

size_t KernelKeyHash::operator()(const KernelKey& k) const {
  // FNV-1a over the key's words.
  uint64_t h = 1469598103934665603ull;
  auto mix = [&](uint32_t w) {
    h ^= w;
    h *= 1099511628211ull;
  };
  mix(uint32_t(k.kernel));
  mix(k.weightType);
  for (uint32_t v : k.spec) mix(v);
  return size_t(h);
}
