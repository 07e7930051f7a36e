#include "kernels/cuda/check.hpp"
#include "kernels/cuda/reduce.hpp"

namespace kestrel::cuda {

namespace {

constexpr int kThreads = 1024;

// One block: thread t sums elements t, t + 1024, ... in order, then a fixed shared-memory tree
// combines the 1024 partial sums. Every run takes the same path, so the result is bitwise stable.
// With a grid of B blocks, block b covers the elements whose (index / 1024) % B is b, and writes
// its sum to out[b]; B is fixed by the caller, never by the device.
template <class In, class Acc, class Out, bool kSquare>
__global__ void __launch_bounds__(kThreads) block_sum_kernel(const In* x, int64_t n, Out* out) {
  __shared__ Acc partial[kThreads];
  Acc acc = 0;
  const int64_t stride = static_cast<int64_t>(gridDim.x) * kThreads;
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * kThreads + threadIdx.x; i < n; i += stride) {
    const Acc v = static_cast<Acc>(x[i]);
    acc += kSquare ? v * v : v;
  }
  partial[threadIdx.x] = acc;
  __syncthreads();
  for (int width = kThreads / 2; width > 0; width /= 2) {
    if (static_cast<int>(threadIdx.x) < width) partial[threadIdx.x] += partial[threadIdx.x + width];
    __syncthreads();
  }
  if (threadIdx.x == 0) out[blockIdx.x] = static_cast<Out>(partial[0]);
}

}  // namespace

void sum_deterministic(const float* x, int64_t n, float* out, cudaStream_t stream) {
  block_sum_kernel<float, double, float, false><<<1, kThreads, 0, stream>>>(x, n, out);
  KESTREL_CUDA_CHECK_LAUNCH();
}

void sum_deterministic(const int32_t* x, int64_t n, int64_t* out, cudaStream_t stream) {
  block_sum_kernel<int32_t, long long, int64_t, false><<<1, kThreads, 0, stream>>>(x, n, out);
  KESTREL_CUDA_CHECK_LAUNCH();
}

void sum_squares_deterministic(const float* x, int64_t n, double* out, double* scratch,
                               cudaStream_t stream) {
  block_sum_kernel<float, double, double, true>
      <<<kReduceScratchDoubles, kThreads, 0, stream>>>(x, n, scratch);
  KESTREL_CUDA_CHECK_LAUNCH();
  block_sum_kernel<double, double, double, false><<<1, kThreads, 0, stream>>>(
      scratch, kReduceScratchDoubles, out);
  KESTREL_CUDA_CHECK_LAUNCH();
}

}  // namespace kestrel::cuda
