#pragma once
// Row-wise work spread over the GPU instead of one thread per row (or per batch), with fixed
// reduction orders so that results stay the same bits on every run. The CPU runs the same
// functors row by row (kernels/common); these are their GPU launches.
#include <driver_types.h>

#include <cstdint>

#include "kernels/common/eval_tally.hpp"
#include "kernels/common/softmax_cross_entropy.hpp"

namespace kestrel::cuda {

// SoftmaxCrossEntropyRow over `rows` rows, one warp per row: lanes stride over the classes and
// the row's max and sums are reduced over the lanes in a fixed tree. Same outputs and in-place
// rule as the functor; the sums' order differs from the CPU's (not its bits).
void softmax_cross_entropy_rows(const kernels::SoftmaxCrossEntropyRow& f, int64_t rows,
                                cudaStream_t stream);

// AccumulateEvalBatch with one block of threads over the batch's rows: confusion counts by
// integer atomics (exact, so order-free), top-5 hits by a block reduction, and the
// misclassified rows' record slots by a block prefix sum, so the records are still the first
// ones in test order.
void accumulate_eval_batch(const kernels::AccumulateEvalBatch& a, cudaStream_t stream);

}  // namespace kestrel::cuda
