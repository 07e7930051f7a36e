#pragma once
// DeviceContext: everything kestrel holds per GPU. A compute stream (every kernel and library
// call of a training step), a communication stream (collectives overlap the backward pass),
// cuDNN and cuBLAS/cuBLASLt handles bound to the compute stream, one shared workspace, and the
// device's MemoryPool. Created on first use, one per GPU, for the life of the process.
#include <cublasLt.h>
#include <cublas_v2.h>
#include <cuda_runtime_api.h>

#include <cstddef>
#include <memory>
#include <vector>
#if defined(KESTREL_HAVE_CUDNN)
#include <cudnn.h>
#endif

#include "engine/memory/memory_pool.hpp"

namespace kestrel::cuda {

class DeviceContext {
 public:
  static constexpr size_t kCublasWorkspaceBytes = size_t{32} << 20;

  explicit DeviceContext(int index);
  ~DeviceContext();
  DeviceContext(const DeviceContext&) = delete;
  DeviceContext& operator=(const DeviceContext&) = delete;

  int index() const { return index_; }
  cudaStream_t compute_stream() const { return compute_; }
  cudaStream_t comm_stream() const { return comm_; }
  cublasHandle_t cublas() const { return cublas_; }
  cublasLtHandle_t cublaslt() const { return cublaslt_; }
#if defined(KESTREL_HAVE_CUDNN)
  cudnnHandle_t cudnn() const { return cudnn_; }
#endif
  MemoryPool& pool() { return pool_; }

  // The shared workspace, at least `bytes` long. Grows (never shrinks) on demand; the old block
  // goes back to the pool in stream order, so work already queued may still use it.
  void* workspace(size_t bytes);
  size_t workspace_size() const { return workspace_bytes_; }
  // From now on a workspace outgrown is kept instead of going back to the pool: a captured
  // CUDA Graph replays with the workspace address it was captured with.
  void keep_outgrown_workspaces() { keep_outgrown_ = true; }

  // Makes this GPU current for the calling thread.
  void make_current() const;
  // Waits for all work queued on the compute stream.
  void synchronize() const;

 private:
  int index_;
  MemoryPool pool_;
  cudaStream_t compute_ = nullptr;
  cudaStream_t comm_ = nullptr;
  cublasHandle_t cublas_ = nullptr;
  cublasLtHandle_t cublaslt_ = nullptr;
#if defined(KESTREL_HAVE_CUDNN)
  cudnnHandle_t cudnn_ = nullptr;
#endif
  void* workspace_ = nullptr;
  size_t workspace_bytes_ = 0;
  bool keep_outgrown_ = false;
  std::vector<void*> outgrown_;  // kept for captured graphs (keep_outgrown_workspaces)
  void* cublas_workspace_ = nullptr;
};

// The context of GPU `index`; throws kestrel::Error when that GPU does not exist.
DeviceContext& device_context(int index);

}  // namespace kestrel::cuda
