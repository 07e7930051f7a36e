#include <algorithm>

#include "kernels/cuda/check.hpp"
#include "kernels/cuda/softmax.hpp"

namespace kestrel::cuda {

namespace {

constexpr int kWarp = 32;
constexpr int kWarpsPerBlock = 8;
// Grid-stride over rows beyond this many blocks.
constexpr int64_t kMaxBlocks = 65535;

__device__ __forceinline__ float warp_max(float v) {
  for (int offset = kWarp / 2; offset > 0; offset /= 2)
    v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, offset));
  return v;
}

// The butterfly leaves every lane with the same total, added in the same order.
__device__ __forceinline__ double warp_sum(double v) {
  for (int offset = kWarp / 2; offset > 0; offset /= 2)
    v += __shfl_xor_sync(0xffffffffu, v, offset);
  return v;
}

__global__ void __launch_bounds__(kWarp* kWarpsPerBlock)
    forward_kernel(const float* x, float* y, int64_t rows, int64_t cols) {
  const int lane = static_cast<int>(threadIdx.x) % kWarp;
  const int64_t first = static_cast<int64_t>(blockIdx.x) * kWarpsPerBlock + threadIdx.x / kWarp;
  const int64_t step = static_cast<int64_t>(gridDim.x) * kWarpsPerBlock;
  for (int64_t r = first; r < rows; r += step) {  // the whole warp takes the same rows
    const float* in = x + r * cols;
    float* out = y + r * cols;
    float max = -INFINITY;
    for (int64_t j = lane; j < cols; j += kWarp) max = fmaxf(max, in[j]);
    max = warp_max(max);
    double sum = 0.0;
    for (int64_t j = lane; j < cols; j += kWarp) sum += static_cast<double>(expf(in[j] - max));
    const float inv = static_cast<float>(1.0 / warp_sum(sum));
    // Each lane rewrites only the elements it read, so y may be x.
    for (int64_t j = lane; j < cols; j += kWarp) out[j] = expf(in[j] - max) * inv;
  }
}

__global__ void __launch_bounds__(kWarp* kWarpsPerBlock)
    backward_kernel(const float* y, const float* dy, float* dx, int64_t rows, int64_t cols) {
  const int lane = static_cast<int>(threadIdx.x) % kWarp;
  const int64_t first = static_cast<int64_t>(blockIdx.x) * kWarpsPerBlock + threadIdx.x / kWarp;
  const int64_t step = static_cast<int64_t>(gridDim.x) * kWarpsPerBlock;
  for (int64_t r = first; r < rows; r += step) {
    const float* p = y + r * cols;
    const float* g = dy + r * cols;
    float* out = dx + r * cols;
    double dot = 0.0;
    for (int64_t j = lane; j < cols; j += kWarp)
      dot += static_cast<double>(g[j]) * static_cast<double>(p[j]);
    const float d = static_cast<float>(warp_sum(dot));
    for (int64_t j = lane; j < cols; j += kWarp) out[j] = p[j] * (g[j] - d);
  }
}

unsigned blocks_for(int64_t rows) {
  return static_cast<unsigned>(
      std::min<int64_t>(kMaxBlocks, (rows + kWarpsPerBlock - 1) / kWarpsPerBlock));
}

}  // namespace

void softmax_rows_forward(const float* x, float* y, int64_t rows, int64_t cols,
                          cudaStream_t stream) {
  if (rows == 0 || cols == 0) return;
  forward_kernel<<<blocks_for(rows), kWarp * kWarpsPerBlock, 0, stream>>>(x, y, rows, cols);
  KESTREL_CUDA_CHECK_LAUNCH();
}

void softmax_rows_backward(const float* y, const float* dy, float* dx, int64_t rows,
                           int64_t cols, cudaStream_t stream) {
  if (rows == 0 || cols == 0) return;
  backward_kernel<<<blocks_for(rows), kWarp * kWarpsPerBlock, 0, stream>>>(y, dy, dx, rows,
                                                                            cols);
  KESTREL_CUDA_CHECK_LAUNCH();
}

}  // namespace kestrel::cuda
