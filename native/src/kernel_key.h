// Which pipeline a dispatch runs: a kernel of the catalogue (native/kernel-catalogue.mjs, generated into
// kernel_catalogue.h), the weight format of its variant (kernels that read weights are compiled once per
// format) and its specialization constants. Compared and hashed as a struct; its name is for messages and
// profiles only.
#pragma once
#include <array>
#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <string>

#include "kernel_catalogue.h"

struct KernelKey {
  KernelId kernel;
  uint32_t weightType = kNoWeightType;  // GgmlType of the variant, or kNoWeightType
  // Every specialization constant the kernel declares, in constant_id order (the rest stay 0).
  std::array<uint32_t, kMaxSpecConstants> spec{};

  // `spec` gives the first constants; the others take the catalogue's defaults. Throws NativeError (internal)
  // for more constants than the kernel has, or a weight type it was not compiled for.
  explicit KernelKey(KernelId kernel, uint32_t weightType = kNoWeightType, std::initializer_list<uint32_t> spec = {});

  const KernelInfo& info() const { return kKernelInfo[uint32_t(kernel)]; }
  // Index into kKernelVariants (and the SPIR-V table) of the variant this key runs.
  size_t variant() const;
  // "matvec_q4_0#8#1#1#1#0": the variant's name, then each specialization constant.
  std::string name() const;

  bool operator==(const KernelKey& o) const { return kernel == o.kernel && weightType == o.weightType && spec == o.spec; }
  bool operator!=(const KernelKey& o) const { return !(*this == o); }
};

struct KernelKeyHash {
  size_t operator()(const KernelKey& k) const;
};
