#pragma once
// The launches of row-wise functors whose GPU side is not one thread per element: on the CPU
// the functor row by row (launch_elementwise, its bits unchanged), on a GPU the kernels of
// kernels/cuda/row_kernels (a warp per row; a block over a batch).
#include <cstdint>

#include "engine/ops/dispatch.hpp"
#include "kernels/common/eval_tally.hpp"
#include "kernels/common/softmax_cross_entropy.hpp"

#if defined(KESTREL_HAVE_CUDA)
#include "kernels/cuda/row_kernels.hpp"
#endif

namespace kestrel::ops::detail {

inline void launch_softmax_cross_entropy(const Context& ctx, int64_t rows,
                                         const kernels::SoftmaxCrossEntropyRow& f) {
#if defined(KESTREL_HAVE_CUDA)
  if (ctx.is_cuda()) {
    cuda::softmax_cross_entropy_rows(f, rows, ctx.stream());
    return;
  }
#endif
  launch_elementwise(ctx, rows, f, f.classes);
}

// One batch's evaluation counts and records (one call: the functor walks every row).
inline void launch_accumulate_eval_batch(const Context& ctx,
                                         const kernels::AccumulateEvalBatch& a) {
#if defined(KESTREL_HAVE_CUDA)
  if (ctx.is_cuda()) {
    cuda::accumulate_eval_batch(a, ctx.stream());
    return;
  }
#endif
  launch_elementwise(ctx, 1, a, a.rows * a.classes);
}

}  // namespace kestrel::ops::detail
