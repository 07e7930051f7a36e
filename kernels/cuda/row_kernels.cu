#include <algorithm>
#include <climits>
#include <cmath>
#include <cub/block/block_reduce.cuh>
#include <cub/block/block_scan.cuh>

#include "kernels/cuda/check.hpp"
#include "kernels/cuda/row_kernels.hpp"

namespace kestrel::cuda {

namespace {

constexpr unsigned kFullMask = 0xffffffffu;
constexpr int kWarp = 32;
constexpr int kRowsPerBlock = 8;  // 256 threads: a warp per row

// The sum over the warp's lanes in a fixed tree (lane 0 ends with it), broadcast to all lanes:
// every lane uses the same bits.
__device__ double warp_sum(double v) {
  for (int offset = kWarp / 2; offset > 0; offset /= 2) v += __shfl_down_sync(kFullMask, v, offset);
  return __shfl_sync(kFullMask, v, 0);
}

__device__ float warp_max(float v) {
  for (int offset = kWarp / 2; offset > 0; offset /= 2) {
    const float o = __shfl_down_sync(kFullMask, v, offset);
    v = o > v ? o : v;
  }
  return __shfl_sync(kFullMask, v, 0);
}

// One row's loss and gradient by the 32 lanes of one warp.
__device__ void softmax_cross_entropy_row(const kernels::SoftmaxCrossEntropyRow& f, int64_t r,
                                          int lane) {
  const int64_t classes = f.classes;
  const float* z = f.logits + r * classes;
  const int32_t label = f.labels[r];
  if (label < 0 || label >= classes) {  // the op checks first; never read out of bounds
    if (lane == 0) f.row_loss[r] = NAN;
    return;
  }
  // Every lane reads the label's logit before any lane writes a gradient (in place).
  const float z_label = z[label];

  float max = z[0];
  for (int64_t j = lane; j < classes; j += kWarp) max = z[j] > max ? z[j] : max;
  max = warp_max(max);

  double sum_exp = 0.0, sum_shifted = 0.0;
  for (int64_t j = lane; j < classes; j += kWarp) {
    const float s = z[j] - max;
    sum_exp += static_cast<double>(::expf(s));
    sum_shifted += static_cast<double>(s);
  }
  sum_exp = warp_sum(sum_exp);
  sum_shifted = warp_sum(sum_shifted);
  if (lane == 0)
    f.row_loss[r] = kernels::softmax_cross_entropy_loss(sum_exp, sum_shifted, z_label - max,
                                                        f.label_smoothing, classes);
  if (f.dlogits == nullptr) return;
  __syncwarp();
  float* d = f.dlogits + r * classes;
  const double inv_sum = 1.0 / sum_exp;
  const double inv_batch = 1.0 / static_cast<double>(f.batch);
  for (int64_t j = lane; j < classes; j += kWarp)
    d[j] = kernels::softmax_cross_entropy_gradient(z[j] - max, inv_sum, j == label,
                                                   f.label_smoothing, classes, inv_batch);
}

// A warp per row, grid-stride over the rows; r is the same on every lane of a warp, so whole
// warps take each branch together (the shuffles need all 32 lanes).
__global__ void softmax_cross_entropy_warp_kernel(kernels::SoftmaxCrossEntropyRow f, int64_t rows) {
  const int lane = static_cast<int>(threadIdx.x) % kWarp;
  const int64_t stride = static_cast<int64_t>(gridDim.x) * kRowsPerBlock;
  for (int64_t r = static_cast<int64_t>(blockIdx.x) * kRowsPerBlock + threadIdx.x / kWarp; r < rows;
       r += stride)
    softmax_cross_entropy_row(f, r, lane);
}

constexpr int kEvalThreads = 256;

__global__ void accumulate_eval_batch_kernel(kernels::AccumulateEvalBatch a) {
  using Scan = cub::BlockScan<int, kEvalThreads>;
  using Reduce = cub::BlockReduce<long long, kEvalThreads>;
  __shared__ typename Scan::TempStorage scan_storage;
  __shared__ typename Reduce::TempStorage reduce_storage;
  __shared__ long long recorded;  // records written so far, capacity included
  if (threadIdx.x == 0) recorded = a.totals->recorded;
  __syncthreads();
  long long top5 = 0;
  for (int64_t base = 0; base < a.rows; base += kEvalThreads) {
    const int64_t r = base + threadIdx.x;
    int wrong = 0;
    int32_t label = 0, pred = 0;
    if (r < a.rows) {
      label = a.labels[r], pred = a.predicted[r];
      if (label >= 0 && label < a.classes) {
        atomicAdd(reinterpret_cast<unsigned long long*>(&a.confusion[label * a.classes + pred]),
                  1ull);
        if (a.top5 != nullptr) top5 += a.top5[r];
        wrong = label != pred ? 1 : 0;
      }
    }
    // This chunk's misclassified rows take the next slots in row order.
    int before = 0, chunk_wrong = 0;
    Scan(scan_storage).ExclusiveSum(wrong, before, chunk_wrong);
    const long long slot = recorded + before;
    if (wrong && slot < a.capacity) {
      // The prediction's softmax probability, in the functor's stable form and order.
      const float* z = a.logits + r * a.classes;
      double denom = 0.0;
      for (int64_t k = 0; k < a.classes; ++k)
        denom += ::exp(static_cast<double>(z[k]) - static_cast<double>(z[pred]));
      a.records[slot] = kernels::EvalRecord{a.indices[r], label, pred, 1.0 / denom};
    }
    __syncthreads();  // every thread has read `recorded`; the scan storage may be reused
    if (threadIdx.x == 0)
      recorded = recorded + chunk_wrong < a.capacity ? recorded + chunk_wrong : a.capacity;
    __syncthreads();
  }
  const long long top5_sum = Reduce(reduce_storage).Sum(top5);
  if (threadIdx.x == 0) {
    a.totals->top5_hits += top5_sum;
    a.totals->recorded = recorded;
  }
}

}  // namespace

void softmax_cross_entropy_rows(const kernels::SoftmaxCrossEntropyRow& f, int64_t rows,
                                cudaStream_t stream) {
  if (rows <= 0) return;
  const int64_t blocks = std::min<int64_t>((rows + kRowsPerBlock - 1) / kRowsPerBlock, INT_MAX);
  softmax_cross_entropy_warp_kernel<<<static_cast<unsigned>(blocks), kRowsPerBlock * kWarp, 0,
                                      stream>>>(f, rows);
  KESTREL_CUDA_CHECK_LAUNCH();
}

void accumulate_eval_batch(const kernels::AccumulateEvalBatch& a, cudaStream_t stream) {
  if (a.rows <= 0) return;
  accumulate_eval_batch_kernel<<<1, kEvalThreads, 0, stream>>>(a);
  KESTREL_CUDA_CHECK_LAUNCH();
}

}  // namespace kestrel::cuda
