#include "kernels/cuda/check.hpp"
#include "kernels/cuda/layer_norm.hpp"

namespace kestrel::cuda {

namespace {

constexpr int kWarp = 32;
constexpr int kRowsPerBlock = 8;
constexpr int kThreads = kWarp * kRowsPerBlock;

// The warp's total of v: a butterfly over lane distances 16, 8, 4, 2, 1. Every lane adds the
// same pairs in the same order, so every lane ends with the same bits, run after run.
__device__ __forceinline__ double warp_sum(double v) {
  for (int offset = kWarp / 2; offset > 0; offset /= 2)
    v += __shfl_xor_sync(0xffffffffu, v, offset);
  return v;
}

// Warp w of block b: row b * kRowsPerBlock + w; lane l sums values l, l + 32, ...
__global__ void __launch_bounds__(kThreads)
    stats_kernel(kernels::LayerNormGeometry g, const float* x, double eps, float* save_mean,
                 float* save_rstd) {
  const int64_t r = static_cast<int64_t>(blockIdx.x) * kRowsPerBlock + threadIdx.x / kWarp;
  if (r >= g.rows) return;  // the whole warp leaves together
  const int lane = static_cast<int>(threadIdx.x % kWarp);
  const float* v = x + r * g.features;
  double sum = 0.0;
  for (int64_t j = lane; j < g.features; j += kWarp) sum += static_cast<double>(v[j]);
  const double mean = warp_sum(sum) / static_cast<double>(g.features);
  double sq = 0.0;
  for (int64_t j = lane; j < g.features; j += kWarp) {
    const double dev = static_cast<double>(v[j]) - mean;
    sq += dev * dev;
  }
  sq = warp_sum(sq);
  if (lane == 0)
    kernels::layer_norm_finish_stats(save_mean, save_rstd, r, g.features, mean, sq, eps);
}

__global__ void __launch_bounds__(kThreads)
    backward_reduce_kernel(kernels::LayerNormGeometry g, const float* x, const float* dy,
                           const float* weight, const float* save_mean, const float* save_rstd,
                           float* coefficients) {
  const int64_t r = static_cast<int64_t>(blockIdx.x) * kRowsPerBlock + threadIdx.x / kWarp;
  if (r >= g.rows) return;
  const int lane = static_cast<int>(threadIdx.x % kWarp);
  const float* xr = x + r * g.features;
  const float* dyr = dy + r * g.features;
  const double mean = static_cast<double>(save_mean[r]);
  const double rstd = static_cast<double>(save_rstd[r]);
  double sum_g = 0.0, sum_gx = 0.0;
  for (int64_t j = lane; j < g.features; j += kWarp) {
    const double gj = static_cast<double>(dyr[j]) * static_cast<double>(weight[j]);
    sum_g += gj;
    sum_gx += gj * ((static_cast<double>(xr[j]) - mean) * rstd);
  }
  sum_g = warp_sum(sum_g);
  sum_gx = warp_sum(sum_gx);
  if (lane == 0) kernels::layer_norm_finish_backward(coefficients, r, g.features, sum_g, sum_gx);
}

unsigned blocks_for(int64_t rows) {
  return static_cast<unsigned>((rows + kRowsPerBlock - 1) / kRowsPerBlock);
}

}  // namespace

void layer_norm_stats(const kernels::LayerNormGeometry& g, const float* x, double eps,
                      float* save_mean, float* save_rstd, cudaStream_t stream) {
  if (g.rows <= 0) return;
  stats_kernel<<<blocks_for(g.rows), kThreads, 0, stream>>>(g, x, eps, save_mean, save_rstd);
  KESTREL_CUDA_CHECK_LAUNCH();
}

void layer_norm_backward_reduce(const kernels::LayerNormGeometry& g, const float* x,
                                const float* dy, const float* weight, const float* save_mean,
                                const float* save_rstd, float* coefficients, cudaStream_t stream) {
  if (g.rows <= 0) return;
  backward_reduce_kernel<<<blocks_for(g.rows), kThreads, 0, stream>>>(g, x, dy, weight, save_mean,
                                                                      save_rstd, coefficients);
  KESTREL_CUDA_CHECK_LAUNCH();
}

}  // namespace kestrel::cuda
