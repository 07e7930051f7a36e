#pragma once
// What the machine's GPUs are, asked without ever failing: on a machine without a GPU (or
// without a driver) cudaGetDeviceCount returns an error, often 35 "insufficient driver"; any
// error means "no GPU" and is kept as the reason.
#include <cstddef>
#include <string>
#include <vector>

namespace kestrel {

struct GpuInfo {
  int index = 0;
  std::string name;
  size_t total_memory = 0;
  size_t free_memory = 0;
  int multiprocessors = 0;
  int compute_major = 0, compute_minor = 0;
  int clock_khz = 0;
  int memory_bus_bits = 0;
};

struct GpuEnvironment {
  bool built_with_cuda = false;
  std::vector<GpuInfo> gpus;
  std::string no_gpu_reason;  // why gpus is empty
  std::string driver_version, runtime_version, cudnn_version, cublas_version, nccl_version;
};

// Number of usable GPUs; 0 on any error and in a CPU-only build. Cached after the first call.
int cuda_device_count();
// Full description, for `kestrel devices` and run reports.
GpuEnvironment query_gpu_environment();

}  // namespace kestrel
