#include "engine/ops/cross_entropy.hpp"

#include "engine/ops/checks.hpp"
#include "engine/ops/dispatch.hpp"
#include "engine/ops/row_dispatch.hpp"
#include "engine/runtime/nvtx.hpp"
#include "kernels/common/softmax_cross_entropy.hpp"

#if defined(KESTREL_HAVE_CUDA)
#include "kernels/cuda/reduce.hpp"
#endif

namespace kestrel::ops {

float cross_entropy_forward_backward(const Context& ctx, const Tensor& logits, const Tensor& labels,
                                     Tensor* dlogits, const CrossEntropySpec& spec) {
  NvtxRange range("cross_entropy_forward_backward");
  constexpr const char* op = "cross_entropy";
  detail::check_cross_entropy(op, ctx, logits, labels, spec);
  const int64_t n = logits.dim(0), classes = logits.dim(1);
  const int64_t divisor = spec.gradient_divisor > 0 ? spec.gradient_divisor : n;
  if (dlogits != nullptr) {
    detail::check_tensor(op, "dlogits", *dlogits, ctx, 2);
    detail::check_shape(op, "dlogits", *dlogits, logits.shape());
  }
  // The row functor indexes the logits by label, so every label is checked first.
  detail::check_labels_in_range(op, labels, classes);

  Tensor row_loss = ctx.scratch(Shape{n});
  detail::launch_softmax_cross_entropy(
      ctx, n,
      kernels::SoftmaxCrossEntropyRow{logits.data<float>(), labels.data<int32_t>(),
                                      row_loss.data<float>(),
                                      dlogits != nullptr ? dlogits->data<float>() : nullptr,
                                      divisor, classes, spec.label_smoothing});

  double total = 0.0;
#if defined(KESTREL_HAVE_CUDA)
  if (ctx.is_cuda()) {
    // A fixed-shape tree on the GPU: deterministic, though not the CPU's order.
    Tensor sum = ctx.scratch(Shape{1});
    cuda::sum_deterministic(row_loss.data<float>(), n, sum.data<float>(), ctx.stream());
    total = static_cast<double>(sum.to_vector()[0]);
    return static_cast<float>(total / static_cast<double>(n));
  }
#endif
  // Fixed order: row 0, 1, ..., in double.
  const float* loss = row_loss.data<float>();
  for (int64_t r = 0; r < n; ++r) total += static_cast<double>(loss[r]);
  return static_cast<float>(total / static_cast<double>(n));
}

}  // namespace kestrel::ops
