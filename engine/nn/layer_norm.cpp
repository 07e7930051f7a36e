#include "engine/nn/layer_norm.hpp"

#include <cmath>

#include "engine/ops/layer_norm.hpp"
#include "kernels/common/error.hpp"

namespace kestrel::nn {

LayerNorm::LayerNorm(std::string name, int64_t normalized_shape, double eps)
    : UnaryLayer(std::move(name)), features_(normalized_shape), eps_(eps) {
  KESTREL_CHECK(normalized_shape >= 1,
                "LayerNorm '{}': normalized_shape must be at least 1, got {}", this->name(),
                normalized_shape);
  KESTREL_CHECK(eps >= 0.0 && std::isfinite(eps),
                "LayerNorm '{}': eps must be finite and not negative, got {}", this->name(), eps);
}

Shape LayerNorm::setup(const Shape& input) {
  KESTREL_CHECK(input.ndim() >= 2, "LayerNorm: expected at least 2 dimensions (N, ..., D), got {}",
                input.str());
  KESTREL_CHECK(input.dim(-1) == features_,
                "LayerNorm: input {} has {} features in its last dimension, normalized_shape is {}",
                input.str(), input.dim(-1), features_);
  input_ = input;
  return input;
}

std::vector<ParamSpec> LayerNorm::params() const {
  return {{"weight", Shape{features_}, ParamKind::Weight, ParamInit::Ones},
          {"bias", Shape{features_}, ParamKind::Bias, ParamInit::Zeros}};
}

void LayerNorm::bind_params(std::span<const Tensor> params, std::span<const Tensor> grads) {
  weight_ = params[0];
  bias_ = params[1];
  dweight_ = grads[0];
  dbias_ = grads[1];
}

std::vector<SavedSpec> LayerNorm::saved() const {
  // Per row: the batch dimension first, so a smaller batch uses the leading rows.
  const Shape rows = ops::layer_norm_stats_shape(input_);
  return {{rows, DType::F32}, {rows, DType::F32}};
}

void LayerNorm::bind_saved(std::span<const Tensor> saved) {
  save_mean_ = saved[0];
  save_rstd_ = saved[1];
}

void LayerNorm::forward(const Context& ctx, const Tensor& x, Tensor& y, const StepInfo& step) {
  (void)step;
  Tensor mean = save_mean_.slice(0, x.dim(0)), rstd = save_rstd_.slice(0, x.dim(0));
  ops::layer_norm_forward(ctx, x, weight_, bias_, y, mean, rstd, eps_);
}

void LayerNorm::backward(const Context& ctx, const Tensor& x, const Tensor& y, const Tensor& dy,
                         Tensor* dx, const StepInfo& step) {
  (void)y;
  (void)step;
  const Tensor mean = save_mean_.slice(0, x.dim(0)), rstd = save_rstd_.slice(0, x.dim(0));
  ops::layer_norm_backward(ctx, x, dy, weight_, mean, rstd, dx,
                           dweight_.defined() ? &dweight_ : nullptr,
                           dbias_.defined() ? &dbias_ : nullptr);
}

}  // namespace kestrel::nn
