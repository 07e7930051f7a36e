#include "engine/ops/step_tally.hpp"

#include "engine/ops/checks.hpp"
#include "engine/ops/dispatch.hpp"
#include "engine/ops/row_dispatch.hpp"
#include "engine/runtime/nvtx.hpp"
#include "kernels/common/classification.hpp"

#if defined(KESTREL_HAVE_CUDA)
#include "kernels/cuda/reduce.hpp"
#endif

namespace kestrel::ops {

void cross_entropy_tally(const Context& ctx, const Tensor& logits, const Tensor& labels,
                         Tensor* dlogits, const kernels::CrossEntropySpec& spec,
                         kernels::StepTally* tally) {
  NvtxRange range("cross_entropy_tally");
  constexpr const char* op = "cross_entropy_tally";
  detail::check_cross_entropy(op, ctx, logits, labels, spec);
  if (dlogits != nullptr) {
    detail::check_tensor(op, "dlogits", *dlogits, ctx, 2);
    detail::check_shape(op, "dlogits", *dlogits, logits.shape());
  }
  const int64_t n = logits.dim(0), classes = logits.dim(1);
  KESTREL_CHECK(tally != nullptr, "{}: no tally to write", op);
  const int64_t divisor = spec.gradient_divisor > 0 ? spec.gradient_divisor : n;

  // The hits first: the loss's backward may write dlogits over the logits (in place).
  Tensor hits = ctx.scratch(Shape{n}, DType::I32);
  detail::launch_elementwise(
      ctx, n,
      kernels::Top1Hits{logits.data<float>(), labels.data<int32_t>(), hits.data<int32_t>(),
                        classes},
      classes);
  Tensor row_loss = ctx.scratch(Shape{n});
  detail::launch_softmax_cross_entropy(
      ctx, n,
      kernels::SoftmaxCrossEntropyRow{logits.data<float>(), labels.data<int32_t>(),
                                      row_loss.data<float>(),
                                      dlogits != nullptr ? dlogits->data<float>() : nullptr, divisor,
                                      classes, spec.label_smoothing});

#if defined(KESTREL_HAVE_CUDA)
  if (ctx.is_cuda()) {
    // The same fixed-shape trees as cross_entropy_forward_backward and count_correct.
    Tensor loss_sum = ctx.scratch(Shape{1});
    Tensor hit_sum = ctx.scratch(Shape{1}, DType::I64);
    cuda::sum_deterministic(row_loss.data<float>(), n, loss_sum.data<float>(), ctx.stream());
    cuda::sum_deterministic(hits.data<int32_t>(), n, hit_sum.data<int64_t>(), ctx.stream());
    detail::launch_elementwise(
        ctx, 1,
        kernels::TallyRankStep{tally, nullptr, loss_sum.data<float>(), hit_sum.data<int64_t>(), n});
    return;
  }
#endif
  // Rows in order, in double, as cross_entropy_forward_backward sums them.
  const float* loss = row_loss.data<float>();
  const int32_t* hit = hits.data<int32_t>();
  double loss_sum = 0.0;
  int64_t hit_sum = 0;
  for (int64_t r = 0; r < n; ++r) {
    loss_sum += static_cast<double>(loss[r]);
    hit_sum += hit[r];
  }
  detail::launch_elementwise(ctx, 1,
                             kernels::TallyRankStep{tally, &loss_sum, nullptr, &hit_sum, n});
}

void empty_tally(const Context& ctx, kernels::StepTally* tally) {
  KESTREL_CHECK(tally != nullptr, "empty_tally: no tally to write");
  detail::launch_elementwise(ctx, 1, kernels::TallyRankStep{tally, nullptr, nullptr, nullptr, 0});
}

}  // namespace kestrel::ops
