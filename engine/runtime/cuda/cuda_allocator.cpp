#include "engine/runtime/cuda/cuda_allocator.hpp"

#include <cuda_runtime_api.h>

#include "kernels/cuda/check.hpp"

namespace kestrel::cuda {

void* CudaAllocator::allocate(size_t bytes) {
  KESTREL_CUDA_CHECK(cudaSetDevice(device_));
  void* p = nullptr;
  const cudaError_t e = cudaMalloc(&p, bytes);
  if (e == cudaErrorMemoryAllocation) {
    cudaGetLastError();  // clear it: the pool may release its cache and retry
    size_t free_bytes = 0, total_bytes = 0;
    cudaMemGetInfo(&free_bytes, &total_bytes);
    KESTREL_FAIL(
        "out of GPU memory on cuda:{}: requested {} bytes ({:.1f} MiB), {} bytes free of {} "
        "({:.1f} MiB free); try a smaller --batch",
        device_, bytes, static_cast<double>(bytes) / (1 << 20), free_bytes, total_bytes,
        static_cast<double>(free_bytes) / (1 << 20));
  }
  KESTREL_CUDA_CHECK(e);
  return p;
}

void CudaAllocator::deallocate(void* ptr, size_t /*bytes*/) {
  // A failure here (e.g. during driver shutdown) cannot be acted on; report nothing. The pool
  // returns wholly free segments, but blocks freed on the host may still be read by kernels
  // queued on the compute stream: wait for them (cudaFree only "may" synchronise). Rare: an
  // out-of-memory retry or release_cached(), never during a capture.
  cudaSetDevice(device_);
  cudaDeviceSynchronize();
  cudaFree(ptr);
}

std::string CudaAllocator::name() const { return fmt::format("cuda:{}", device_); }

}  // namespace kestrel::cuda
