#pragma once
// Definition of kestrel::cuda::launch, for .cu files only.
#include <algorithm>
#include <climits>

#include "kernels/cuda/check.hpp"
#include "kernels/cuda/launch.hpp"

namespace kestrel::cuda {

template <class Functor>
__global__ void grid_stride_kernel(int64_t n, Functor functor) {
  const int64_t stride = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += stride)
    functor(i);
}

template <class Functor>
void launch(int64_t n, const Functor& functor, cudaStream_t stream) {
  if (n <= 0) return;
  constexpr int kThreads = 256;
  const int64_t blocks = std::min<int64_t>((n + kThreads - 1) / kThreads, INT_MAX);
  grid_stride_kernel<<<static_cast<unsigned>(blocks), kThreads, 0, stream>>>(n, functor);
  KESTREL_CUDA_CHECK_LAUNCH();
}

}  // namespace kestrel::cuda

// Explicit instantiation for one functor type, in a .cu file.
#define KESTREL_CUDA_INSTANTIATE_LAUNCH(Functor) \
  template void ::kestrel::cuda::launch<Functor>(int64_t, const Functor&, cudaStream_t);
