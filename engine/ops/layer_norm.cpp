#include "engine/ops/layer_norm.hpp"

#include <cmath>
#include <string_view>

#include "engine/ops/checks.hpp"
#include "engine/ops/dispatch.hpp"
#include "engine/runtime/nvtx.hpp"
#include "kernels/common/layer_norm.hpp"
#include "kernels/cpu/layer_norm.hpp"

#if defined(KESTREL_HAVE_CUDA)
#include "kernels/cuda/layer_norm.hpp"
#endif

namespace kestrel::ops {

namespace {

kernels::LayerNormGeometry geometry(std::string_view op, const Context& ctx, const Tensor& x) {
  detail::check_tensor(op, "input", x, ctx, -1);
  KESTREL_CHECK(x.ndim() >= 2 && x.dim(-1) >= 1,
                "{}: input must have at least 2 dimensions (N, ..., D) and D >= 1, got {}", op,
                x.shape().str());
  return kernels::LayerNormGeometry{x.numel() / x.dim(-1), x.dim(-1)};
}

void check_features(std::string_view op, std::string_view name, const Tensor& t, const Context& ctx,
                    int64_t features) {
  detail::check_tensor(op, name, t, ctx, 1);
  detail::check_shape(op, name, t, Shape{features});
}

void check_stats(std::string_view op, std::string_view name, const Tensor& t, const Context& ctx,
                 const Tensor& x) {
  detail::check_tensor(op, name, t, ctx, -1);
  detail::check_shape(op, name, t, layer_norm_stats_shape(x.shape()));
}

}  // namespace

Shape layer_norm_stats_shape(const Shape& input) {
  KESTREL_CHECK(input.ndim() >= 2, "layer_norm: input must have at least 2 dimensions, got {}",
                input.str());
  return Shape::from(input.data(), input.ndim() - 1);
}

void layer_norm_forward(const Context& ctx, const Tensor& x, const Tensor& weight,
                        const Tensor& bias, Tensor& y, Tensor& save_mean, Tensor& save_rstd,
                        double eps) {
  NvtxRange range("layer_norm_forward");
  constexpr std::string_view op = "layer_norm";
  KESTREL_CHECK(eps >= 0.0 && std::isfinite(eps), "{}: eps must be finite and not negative, got {}",
                op, eps);
  const kernels::LayerNormGeometry g = geometry(op, ctx, x);
  check_features(op, "weight", weight, ctx, g.features);
  check_features(op, "bias", bias, ctx, g.features);
  detail::check_tensor(op, "output", y, ctx, -1);
  detail::check_shape(op, "output", y, x.shape());
  KESTREL_CHECK(!detail::overlap(x, y), "{}: output overlaps the input", op);
  check_stats(op, "save_mean", save_mean, ctx, x);
  check_stats(op, "save_rstd", save_rstd, ctx, x);

  float* mean = save_mean.data<float>();
  float* rstd = save_rstd.data<float>();
#if defined(KESTREL_HAVE_CUDA)
  if (ctx.is_cuda()) {
    cuda::layer_norm_stats(g, x.data<float>(), eps, mean, rstd, ctx.stream());
  } else
#endif
  {
    cpu::layer_norm_stats(g, x.data<float>(), eps, mean, rstd);
  }
  detail::launch_elementwise(
      ctx, x.numel(),
      kernels::LayerNormApply{g, x.data<float>(), y.data<float>(), mean, rstd, weight.data<float>(),
                              bias.data<float>()});
}

void layer_norm_backward(const Context& ctx, const Tensor& x, const Tensor& dy,
                         const Tensor& weight, const Tensor& save_mean, const Tensor& save_rstd,
                         Tensor* dx, Tensor* dweight, Tensor* dbias) {
  NvtxRange range("layer_norm_backward");
  constexpr std::string_view op = "layer_norm_backward";
  const kernels::LayerNormGeometry g = geometry(op, ctx, x);
  detail::check_tensor(op, "grad_output", dy, ctx, -1);
  detail::check_shape(op, "grad_output", dy, x.shape());
  check_features(op, "weight", weight, ctx, g.features);
  check_stats(op, "save_mean", save_mean, ctx, x);
  check_stats(op, "save_rstd", save_rstd, ctx, x);
  if (dx != nullptr) {
    detail::check_tensor(op, "grad_input", *dx, ctx, -1);
    detail::check_shape(op, "grad_input", *dx, x.shape());
    KESTREL_CHECK(!detail::overlap(*dx, x) && !detail::overlap(*dx, dy),
                  "{}: grad_input overlaps the input or grad_output", op);
  }
  if (dweight != nullptr) check_features(op, "grad_weight", *dweight, ctx, g.features);
  if (dbias != nullptr) check_features(op, "grad_bias", *dbias, ctx, g.features);

  const float* mean = save_mean.data<float>();
  const float* rstd = save_rstd.data<float>();
  if (dweight != nullptr || dbias != nullptr) {
    detail::launch_elementwise(
        ctx, g.features,
        kernels::LayerNormParamGrads{g, x.data<float>(), dy.data<float>(), mean, rstd,
                                     dweight != nullptr ? dweight->data<float>() : nullptr,
                                     dbias != nullptr ? dbias->data<float>() : nullptr},
        3 * g.rows);
  }
  if (dx == nullptr) return;
  Tensor coefficients = ctx.scratch(Shape{g.rows, 2});
#if defined(KESTREL_HAVE_CUDA)
  if (ctx.is_cuda()) {
    cuda::layer_norm_backward_reduce(g, x.data<float>(), dy.data<float>(), weight.data<float>(),
                                     mean, rstd, coefficients.data<float>(), ctx.stream());
  } else
#endif
  {
    cpu::layer_norm_backward_reduce(g, x.data<float>(), dy.data<float>(), weight.data<float>(),
                                    mean, rstd, coefficients.data<float>());
  }
  detail::launch_elementwise(
      ctx, x.numel(),
      kernels::LayerNormBackwardInput{g, x.data<float>(), dy.data<float>(), dx->data<float>(), mean,
                                      rstd, weight.data<float>(), coefficients.data<float>()});
}

}  // namespace kestrel::ops
