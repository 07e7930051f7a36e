#include "engine/runtime/cuda/device_context.hpp"

#include <array>
#include <mutex>

#include "engine/runtime/cuda/cuda_allocator.hpp"
#include "engine/runtime/gpu_info.hpp"
#include "kernels/cuda/check.hpp"
#include "kernels/cuda/library_check.hpp"

namespace kestrel::cuda {

DeviceContext::DeviceContext(int index)
    : index_(index), pool_(std::make_unique<CudaAllocator>(index)) {
  make_current();
  KESTREL_CUDA_CHECK(cudaStreamCreateWithFlags(&compute_, cudaStreamNonBlocking));
  KESTREL_CUDA_CHECK(cudaStreamCreateWithFlags(&comm_, cudaStreamNonBlocking));
  KESTREL_CUBLAS_CHECK(cublasCreate(&cublas_));
  KESTREL_CUBLAS_CHECK(cublasSetStream(cublas_, compute_));
  // A workspace of cuBLAS's own from the start, so that it never allocates one while a step is
  // being captured as a CUDA Graph (NVIDIA's recommended size for Hopper). Outside the pool:
  // it is the library's, not the model's, and would only blur the pool's figures.
  KESTREL_CUDA_CHECK(cudaMalloc(&cublas_workspace_, kCublasWorkspaceBytes));
  KESTREL_CUBLAS_CHECK(cublasSetWorkspace(cublas_, cublas_workspace_, kCublasWorkspaceBytes));
  KESTREL_CUBLAS_CHECK(cublasLtCreate(&cublaslt_));
#if defined(KESTREL_HAVE_CUDNN)
  KESTREL_CUDNN_CHECK(cudnnCreate(&cudnn_));
  KESTREL_CUDNN_CHECK(cudnnSetStream(cudnn_, compute_));
#endif
}

DeviceContext::~DeviceContext() {
  // Contexts live for the whole process (see device_context()); this runs only if one is
  // created and destroyed explicitly. Errors are ignored: there is no one left to tell.
  cudaSetDevice(index_);
  if (workspace_) pool_.deallocate(workspace_);
  for (void* p : outgrown_) pool_.deallocate(p);
  if (cublas_workspace_) cudaFree(cublas_workspace_);
#if defined(KESTREL_HAVE_CUDNN)
  if (cudnn_) cudnnDestroy(cudnn_);
#endif
  if (cublaslt_) cublasLtDestroy(cublaslt_);
  if (cublas_) cublasDestroy(cublas_);
  if (comm_) cudaStreamDestroy(comm_);
  if (compute_) cudaStreamDestroy(compute_);
}

void* DeviceContext::workspace(size_t bytes) {
  if (bytes <= workspace_bytes_) return workspace_;
  if (workspace_ && keep_outgrown_) {
    outgrown_.push_back(workspace_);
  } else if (workspace_) {
    pool_.deallocate(workspace_);
  }
  workspace_ = pool_.allocate(bytes);
  workspace_bytes_ = bytes;
  return workspace_;
}

void DeviceContext::make_current() const { KESTREL_CUDA_CHECK(cudaSetDevice(index_)); }

void DeviceContext::synchronize() const { KESTREL_CUDA_CHECK(cudaStreamSynchronize(compute_)); }

DeviceContext& device_context(int index) {
  constexpr int kMaxGpus = 64;
  // Never destroyed: CUDA objects must not be torn down after the driver unloads at exit.
  static std::array<DeviceContext*, kMaxGpus> contexts{};
  static std::mutex mutex;
  const int count = cuda_device_count();
  KESTREL_CHECK(index >= 0 && index < count && index < kMaxGpus,
                "device cuda:{} is not available: this machine has {} CUDA GPU(s)", index, count);
  std::lock_guard lock(mutex);
  auto& slot = contexts[static_cast<size_t>(index)];
  if (!slot) slot = new DeviceContext(index);
  return *slot;
}

}  // namespace kestrel::cuda
