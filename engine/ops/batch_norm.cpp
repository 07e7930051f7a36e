#include "engine/ops/batch_norm.hpp"

#include <cmath>
#include <cstdint>
#include <string_view>

#include "engine/ops/checks.hpp"
#include "engine/ops/dispatch.hpp"
#include "engine/runtime/nvtx.hpp"
#include "kernels/common/batch_norm.hpp"
#include "kernels/cpu/batch_norm.hpp"

#if defined(KESTREL_HAVE_CUDA)
#include "kernels/cuda/batch_norm.hpp"
#endif

namespace kestrel::ops {

namespace {

kernels::BatchNormGeometry geometry(std::string_view op, const Context& ctx, const Tensor& x) {
  detail::check_tensor(op, "input", x, ctx, -1);
  KESTREL_CHECK(x.ndim() >= 2, "{}: input must have at least 2 dimensions (N, C, ...), got {}", op,
                x.shape().str());
  int64_t inner = 1;
  for (int d = 2; d < x.ndim(); ++d) inner *= x.dim(d);
  return kernels::BatchNormGeometry{x.dim(0), x.dim(1), inner};
}

// An optional per-channel f32 tensor: undefined, or [C] on the context's device.
const float* channel_data(std::string_view op, std::string_view name, const Tensor& t,
                          const Context& ctx, int64_t channels) {
  if (!t.defined()) return nullptr;
  detail::check_tensor(op, name, t, ctx, 1);
  detail::check_shape(op, name, t, Shape{channels});
  return t.data<float>();
}

void check_per_channel(std::string_view op, std::string_view name, const Tensor& t,
                       const Context& ctx, int64_t channels) {
  detail::check_tensor(op, name, t, ctx, 1);
  detail::check_shape(op, name, t, Shape{channels});
}

void check_spec(std::string_view op, const BatchNormSpec& spec) {
  KESTREL_CHECK(spec.eps >= 0.0 && std::isfinite(spec.eps),
                "{}: eps must be finite and not negative, got {}", op, spec.eps);
  KESTREL_CHECK(!spec.momentum || (*spec.momentum >= 0.0 && *spec.momentum <= 1.0),
                "{}: momentum must lie in [0, 1], got {}", op, spec.momentum.value_or(0.0));
}

}  // namespace

void batch_norm_forward(const Context& ctx, const Tensor& x, const Tensor& weight,
                        const Tensor& bias, BatchNormRunning& running, Tensor& y, Tensor& save_mean,
                        Tensor& save_invstd, const BatchNormSpec& spec, bool relu) {
  NvtxRange range("batch_norm_forward");
  constexpr std::string_view op = "batch_norm";
  check_spec(op, spec);
  const kernels::BatchNormGeometry g = geometry(op, ctx, x);
  const int64_t channels = g.channels;
  const float* w = channel_data(op, "weight", weight, ctx, channels);
  const float* b = channel_data(op, "bias", bias, ctx, channels);
  const int given = int{running.mean.defined()} + int{running.var.defined()} +
                    int{running.num_batches_tracked.defined()};
  KESTREL_CHECK(given == 0 || given == 3,
                "{}: running_mean, running_var and num_batches_tracked must all be given or all "
                "be undefined, got {} of 3",
                op, given);
  const bool tracked = given == 3;
  if (tracked) {
    check_per_channel(op, "running_mean", running.mean, ctx, channels);
    check_per_channel(op, "running_var", running.var, ctx, channels);
    detail::check_tensor(op, "num_batches_tracked", running.num_batches_tracked, ctx, 0,
                         DType::I64);
  }
  KESTREL_CHECK(spec.training || tracked,
                "{}: evaluation (training false) needs the running statistics", op);
  KESTREL_CHECK(!spec.training || g.per_channel() > 1,
                "{}: expected more than 1 value per channel when training, got input {}", op,
                x.shape().str());
  detail::check_tensor(op, "output", y, ctx, -1);
  detail::check_shape(op, "output", y, x.shape());
  KESTREL_CHECK(!detail::overlap(x, y), "{}: output overlaps the input", op);
  check_per_channel(op, "save_mean", save_mean, ctx, channels);
  check_per_channel(op, "save_invstd", save_invstd, ctx, channels);

  if (spec.training) {
    const kernels::BatchNormStatsOut out{
        save_mean.data<float>(),
        save_invstd.data<float>(),
        tracked ? running.mean.data<float>() : nullptr,
        tracked ? running.var.data<float>() : nullptr,
        tracked ? running.num_batches_tracked.data<int64_t>() : nullptr,
        spec.momentum.value_or(-1.0),
        spec.eps};
#if defined(KESTREL_HAVE_CUDA)
    if (ctx.is_cuda()) {
      cuda::batch_norm_stats(g, x.data<float>(), out, ctx.stream());
    } else
#endif
    {
      cpu::batch_norm_stats(g, x.data<float>(), out);
    }
    // After the statistics, which read the count before this batch (momentum=None).
    if (tracked)
      detail::launch_elementwise(
          ctx, 1, kernels::BatchNormCountBatch{running.num_batches_tracked.data<int64_t>()});
  } else {
    detail::launch_elementwise(
        ctx, channels,
        kernels::BatchNormEvalStats{running.mean.data<float>(), running.var.data<float>(),
                                    save_mean.data<float>(), save_invstd.data<float>(), spec.eps});
  }

  const kernels::BatchNormApply apply{g,
                                      x.data<float>(),
                                      y.data<float>(),
                                      save_mean.data<float>(),
                                      save_invstd.data<float>(),
                                      w,
                                      b,
                                      relu};
  if (ctx.is_cuda()) {
    detail::launch_elementwise(ctx, x.numel(), apply);
  } else {
    cpu::batch_norm_apply(apply);
  }
}

void batch_norm_backward(const Context& ctx, const Tensor& x, const Tensor& dy,
                         const Tensor& weight, const Tensor& save_mean, const Tensor& save_invstd,
                         Tensor* dx, Tensor* dweight, Tensor* dbias, const BatchNormSpec& spec) {
  NvtxRange range("batch_norm_backward");
  constexpr std::string_view op = "batch_norm_backward";
  check_spec(op, spec);
  const kernels::BatchNormGeometry g = geometry(op, ctx, x);
  const int64_t channels = g.channels;
  detail::check_tensor(op, "grad_output", dy, ctx, -1);
  detail::check_shape(op, "grad_output", dy, x.shape());
  const float* w = channel_data(op, "weight", weight, ctx, channels);
  check_per_channel(op, "save_mean", save_mean, ctx, channels);
  check_per_channel(op, "save_invstd", save_invstd, ctx, channels);
  if (dx != nullptr) {
    detail::check_tensor(op, "grad_input", *dx, ctx, -1);
    detail::check_shape(op, "grad_input", *dx, x.shape());
    KESTREL_CHECK(!detail::overlap(*dx, x) && !detail::overlap(*dx, dy),
                  "{}: grad_input overlaps the input or grad_output", op);
  }
  if (dweight != nullptr) {
    KESTREL_CHECK(w != nullptr, "{}: grad_weight asked for without a weight", op);
    check_per_channel(op, "grad_weight", *dweight, ctx, channels);
  }
  if (dbias != nullptr) check_per_channel(op, "grad_bias", *dbias, ctx, channels);

  const bool dx_needs_sums = dx != nullptr && spec.training;
  Tensor coefficients;
  if (dx_needs_sums) coefficients = ctx.scratch(Shape{2, channels});
  if (dx_needs_sums || dweight != nullptr || dbias != nullptr) {
    const kernels::BatchNormBackwardOut out{save_mean.data<float>(), save_invstd.data<float>(),
                                            dweight != nullptr ? dweight->data<float>() : nullptr,
                                            dbias != nullptr ? dbias->data<float>() : nullptr,
                                            dx_needs_sums ? coefficients.data<float>() : nullptr};
#if defined(KESTREL_HAVE_CUDA)
    if (ctx.is_cuda()) {
      cuda::batch_norm_backward_reduce(g, x.data<float>(), dy.data<float>(), out, ctx.stream());
    } else
#endif
    {
      cpu::batch_norm_backward_reduce(g, x.data<float>(), dy.data<float>(), out);
    }
  }
  if (dx == nullptr) return;
  const kernels::BatchNormBackwardInput input{
      g,
      x.data<float>(),
      dy.data<float>(),
      dx->data<float>(),
      save_mean.data<float>(),
      save_invstd.data<float>(),
      w,
      dx_needs_sums ? static_cast<const float*>(coefficients.data<float>()) : nullptr};
  if (ctx.is_cuda()) {
    detail::launch_elementwise(ctx, x.numel(), input);
  } else {
    cpu::batch_norm_backward_input(input);
  }
}

}  // namespace kestrel::ops
