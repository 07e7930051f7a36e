#include "kernels/cuda/batch_norm.hpp"
#include "kernels/cuda/check.hpp"

namespace kestrel::cuda {

namespace {

constexpr int kThreads = 512;

// Sums the two per-thread values over the block with a fixed tree; thread 0 ends with the
// totals in a[0] and b[0].
__device__ void block_tree(double* a, double* b, double va, double vb) {
  a[threadIdx.x] = va;
  b[threadIdx.x] = vb;
  __syncthreads();
  for (int width = kThreads / 2; width > 0; width /= 2) {
    if (static_cast<int>(threadIdx.x) < width) {
      a[threadIdx.x] += a[threadIdx.x + width];
      b[threadIdx.x] += b[threadIdx.x + width];
    }
    __syncthreads();
  }
}

// Element j of channel c's values (sample j / inner, position j % inner).
__device__ __forceinline__ int64_t channel_element(const kernels::BatchNormGeometry& g, int64_t c,
                                                   int64_t j) {
  const int64_t n = j / g.inner;
  return (n * g.channels + c) * g.inner + (j - n * g.inner);
}

// Block c: channel c. Thread t sums values t, t + kThreads, ... of the channel.
__global__ void __launch_bounds__(kThreads)
    stats_kernel(kernels::BatchNormGeometry g, const float* x, kernels::BatchNormStatsOut out) {
  __shared__ double a[kThreads], b[kThreads];
  const int64_t c = blockIdx.x;
  const int64_t count = g.per_channel();
  const double shift = static_cast<double>(x[c * g.inner]);
  double va = 0.0, vb = 0.0;
  for (int64_t j = threadIdx.x; j < count; j += kThreads) {
    const double d = static_cast<double>(x[channel_element(g, c, j)]) - shift;
    va += d;
    vb += d * d;
  }
  block_tree(a, b, va, vb);
  if (threadIdx.x == 0) kernels::batch_norm_finish_stats(out, c, count, shift, a[0], b[0]);
}

__global__ void __launch_bounds__(kThreads)
    backward_reduce_kernel(kernels::BatchNormGeometry g, const float* x, const float* dy,
                           kernels::BatchNormBackwardOut out) {
  __shared__ double a[kThreads], b[kThreads];
  const int64_t c = blockIdx.x;
  const int64_t count = g.per_channel();
  const double mean = static_cast<double>(out.save_mean[c]);
  double va = 0.0, vb = 0.0;
  for (int64_t j = threadIdx.x; j < count; j += kThreads) {
    const int64_t e = channel_element(g, c, j);
    const double d = static_cast<double>(dy[e]);
    va += d;
    vb += d * (static_cast<double>(x[e]) - mean);
  }
  block_tree(a, b, va, vb);
  if (threadIdx.x == 0) kernels::batch_norm_finish_backward(out, c, g.channels, count, a[0], b[0]);
}

}  // namespace

void batch_norm_stats(const kernels::BatchNormGeometry& g, const float* x,
                      const kernels::BatchNormStatsOut& out, cudaStream_t stream) {
  if (g.channels <= 0) return;
  stats_kernel<<<static_cast<unsigned>(g.channels), kThreads, 0, stream>>>(g, x, out);
  KESTREL_CUDA_CHECK_LAUNCH();
}

void batch_norm_backward_reduce(const kernels::BatchNormGeometry& g, const float* x,
                                const float* dy, const kernels::BatchNormBackwardOut& out,
                                cudaStream_t stream) {
  if (g.channels <= 0) return;
  backward_reduce_kernel<<<static_cast<unsigned>(g.channels), kThreads, 0, stream>>>(g, x, dy, out);
  KESTREL_CUDA_CHECK_LAUNCH();
}

}  // namespace kestrel::cuda
