#pragma once
// A device's peak arithmetic rate, for a benchmark's "share of peak". Only datasheet values
// (NVIDIA's, dense, i.e. without the 2:4 sparsity that doubles the tensor-core figures) for
// the GPUs kestrel is measured on; anything else, the CPU included, is unknown.
#include <string>

namespace kestrel::bench {

struct DevicePeak {
  double gflops = 0.0;  // 0: unknown
  std::string source;   // "datasheet: NVIDIA H100 SXM5, TF32 tensor core, dense", or why unknown

  bool known() const { return gflops > 0.0; }
};

// What the products run on: the CUDA cores in FP32, or the tensor cores in TF32 or BF16.
enum class PeakPrecision { FP32, TF32, BF16 };

// The peak of a GPU by its name and compute capability at `precision`.
// H100 SXM5 / PCIe / NVL and H200 / H200 NVL (compute 9.0).
DevicePeak gpu_peak(const std::string& name, int compute_major, int compute_minor,
                    PeakPrecision precision);

// The CPU's peak is not tabulated (it depends on the core count, clock and vector width).
DevicePeak cpu_peak();

}  // namespace kestrel::bench
