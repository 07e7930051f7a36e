#include "engine/runtime/gpu_info.hpp"

#include <fmt/format.h>

#if defined(KESTREL_HAVE_CUDA)
#include <cublas_api.h>
#include <cuda_runtime_api.h>
#if defined(KESTREL_HAVE_CUDNN)
#include <cudnn.h>
#endif
#if defined(KESTREL_HAVE_NCCL)
#include <nccl.h>
#endif
#endif

namespace kestrel {

#if defined(KESTREL_HAVE_CUDA)
namespace {

std::string cuda_version_string(int v) { return fmt::format("{}.{}", v / 1000, (v % 1000) / 10); }

int count_devices(std::string* reason) {
  int n = 0;
  const cudaError_t e = cudaGetDeviceCount(&n);
  if (e != cudaSuccess) {
    if (reason)
      *reason = fmt::format("cudaGetDeviceCount failed: {} ({}): {}", cudaGetErrorName(e),
                            static_cast<int>(e), cudaGetErrorString(e));
    cudaGetLastError();  // clear the sticky-free error so later calls start clean
    return 0;
  }
  if (n == 0 && reason) *reason = "the CUDA driver reports no devices";
  return n;
}

}  // namespace

int cuda_device_count() {
  static const int n = count_devices(nullptr);
  return n;
}

GpuEnvironment query_gpu_environment() {
  GpuEnvironment env;
  env.built_with_cuda = true;
  int v = 0;
  if (cudaDriverGetVersion(&v) == cudaSuccess && v > 0)
    env.driver_version = cuda_version_string(v);
  else
    env.driver_version = "none";
  if (cudaRuntimeGetVersion(&v) == cudaSuccess) env.runtime_version = cuda_version_string(v);
  env.cublas_version =
      fmt::format("{}.{}.{}", CUBLAS_VER_MAJOR, CUBLAS_VER_MINOR, CUBLAS_VER_PATCH);
#if defined(KESTREL_HAVE_CUDNN)
  const size_t cudnn = cudnnGetVersion();
  env.cudnn_version = fmt::format("{}.{}.{}", cudnn / 10000, (cudnn % 10000) / 100, cudnn % 100);
#else
  env.cudnn_version = "not built";
#endif
#if defined(KESTREL_HAVE_NCCL)
  int nccl = 0;
  if (ncclGetVersion(&nccl) == ncclSuccess)
    env.nccl_version = fmt::format("{}.{}.{}", nccl / 10000, (nccl % 10000) / 100, nccl % 100);
#else
  env.nccl_version = "not built";
#endif
  const int n = count_devices(&env.no_gpu_reason);
  for (int i = 0; i < n; ++i) {
    cudaDeviceProp p{};
    if (cudaGetDeviceProperties(&p, i) != cudaSuccess) continue;
    GpuInfo g;
    g.index = i;
    g.name = p.name;
    g.total_memory = p.totalGlobalMem;
    g.multiprocessors = p.multiProcessorCount;
    g.compute_major = p.major;
    g.compute_minor = p.minor;
    int clock = 0;
    if (cudaDeviceGetAttribute(&clock, cudaDevAttrClockRate, i) == cudaSuccess) g.clock_khz = clock;
    g.memory_bus_bits = p.memoryBusWidth;
    size_t free_bytes = 0, total_bytes = 0;
    if (cudaSetDevice(i) == cudaSuccess && cudaMemGetInfo(&free_bytes, &total_bytes) == cudaSuccess)
      g.free_memory = free_bytes;
    env.gpus.push_back(g);
  }
  return env;
}

#else  // CPU-only build

int cuda_device_count() { return 0; }

GpuEnvironment query_gpu_environment() {
  GpuEnvironment env;
  env.no_gpu_reason = "this kestrel was built without CUDA (-DKESTREL_CUDA=OFF or no toolkit)";
  return env;
}

#endif

}  // namespace kestrel
