#include "engine/bench/device_peak.hpp"

#include <fmt/format.h>

namespace kestrel::bench {

namespace {

struct PeakEntry {
  const char* variant;
  double fp32_tflops;
  double tf32_tflops;  // dense: half of the datasheet's "with sparsity" figure
  double bf16_tflops;  // dense, likewise
};

// NVIDIA H100 and H200 datasheets.
constexpr PeakEntry kH100Sxm{"H100 SXM5", 67.0, 494.7, 989.5};
constexpr PeakEntry kH100Pcie{"H100 PCIe", 51.0, 378.0, 756.5};
constexpr PeakEntry kH100Nvl{"H100 NVL", 60.0, 417.5, 835.5};
constexpr PeakEntry kH200Sxm{"H200 SXM", 67.0, 494.7, 989.5};
constexpr PeakEntry kH200Nvl{"H200 NVL", 60.0, 417.5, 835.5};

bool contains(const std::string& s, const char* part) { return s.find(part) != std::string::npos; }

const PeakEntry* lookup(const std::string& name, int major, int minor) {
  if (major != 9 || minor != 0) return nullptr;
  if (contains(name, "H200")) return contains(name, "NVL") ? &kH200Nvl : &kH200Sxm;
  if (contains(name, "H100")) {
    if (contains(name, "PCIe")) return &kH100Pcie;
    if (contains(name, "NVL")) return &kH100Nvl;
    return &kH100Sxm;  // "NVIDIA H100 80GB HBM3" is the SXM5 board
  }
  return nullptr;
}

}  // namespace

DevicePeak gpu_peak(const std::string& name, int compute_major, int compute_minor,
                    PeakPrecision precision) {
  const PeakEntry* e = lookup(name, compute_major, compute_minor);
  if (e == nullptr)
    return {0.0, fmt::format("unknown: no datasheet entry for {} (compute {}.{})", name,
                             compute_major, compute_minor)};
  if (precision == PeakPrecision::TF32)
    return {e->tf32_tflops * 1e3,
            fmt::format("datasheet: NVIDIA {}, TF32 tensor core, dense", e->variant)};
  if (precision == PeakPrecision::BF16)
    return {e->bf16_tflops * 1e3,
            fmt::format("datasheet: NVIDIA {}, BF16 tensor core, dense", e->variant)};
  return {e->fp32_tflops * 1e3, fmt::format("datasheet: NVIDIA {}, FP32", e->variant)};
}

DevicePeak cpu_peak() { return {0.0, "n/a: no CPU peak table"}; }

}  // namespace kestrel::bench
