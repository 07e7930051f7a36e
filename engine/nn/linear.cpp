#include "engine/nn/linear.hpp"

#include <fmt/format.h>

#include "engine/ops/linear.hpp"
#include "kernels/common/error.hpp"

namespace kestrel::nn {

Linear::Linear(std::string name, int64_t in_features, int64_t out_features, bool bias)
    : Linear(std::move(name), in_features, out_features, LinearOptions{.bias = bias}) {}

Linear::Linear(std::string name, int64_t in_features, int64_t out_features,
               const LinearOptions& options)
    : UnaryLayer(std::move(name)),
      in_features_(in_features),
      out_features_(out_features),
      infer_in_features_(in_features == 0),
      has_bias_(options.bias),
      weight_init_{options.weight_init, options.weight_scale},
      bias_init_{options.bias_init, options.bias_scale} {
  KESTREL_CHECK(in_features >= 0 && out_features > 0,
                "Linear '{}': in_features {} and out_features {} must be positive", this->name(),
                in_features, out_features);
}

Shape Linear::setup(const Shape& input) {
  KESTREL_CHECK(input.ndim() >= 2,
                "Linear: input must have at least 2 dimensions [N, ..., features], got {}",
                input.str());
  if (infer_in_features_) in_features_ = input.dim(-1);
  KESTREL_CHECK(input.dim(-1) == in_features_,
                "Linear: input has {} features but the layer expects {} (input {})", input.dim(-1),
                in_features_, input.str());
  Shape out = input;
  out[out.ndim() - 1] = out_features_;
  return out;
}

std::vector<ParamSpec> Linear::params() const {
  std::vector<ParamSpec> p{{"weight", Shape{out_features_, in_features_}, ParamKind::Weight,
                            weight_init_.how, weight_init_.scale}};
  if (has_bias_)
    p.push_back({"bias", Shape{out_features_}, ParamKind::Bias, bias_init_.how, bias_init_.scale});
  return p;
}

void Linear::bind_params(std::span<const Tensor> params, std::span<const Tensor> grads) {
  weight_ = params[0];
  grad_weight_ = grads[0];
  if (has_bias_) {
    bias_ = params[1];
    grad_bias_ = grads[1];
  }
}

void Linear::forward(const Context& ctx, const Tensor& x, Tensor& y, const StepInfo& step) {
  (void)step;
  ops::linear_forward(ctx, x, weight_, has_bias_ ? &bias_ : nullptr, y, fused_relu_);
}

void Linear::backward(const Context& ctx, const Tensor& x, const Tensor& y, const Tensor& dy,
                      Tensor* dx, const StepInfo& step) {
  (void)y;
  (void)step;
  // A frozen parameter has no gradient view.
  if (grad_weight_.defined()) ops::linear_backward_weight(ctx, x, dy, grad_weight_);
  if (grad_bias_.defined()) ops::linear_backward_bias(ctx, dy, grad_bias_);
  if (dx != nullptr) ops::linear_backward_data(ctx, dy, weight_, *dx);
}

bool Linear::absorb(const Layer* next) {
  fused_relu_ = next != nullptr && next->nonlinearity() == "relu";
  return fused_relu_;
}

int64_t Linear::multiply_adds(const Shape& input) const {
  // One product per row: every leading dimension (N, or N * tokens).
  return input.numel() / input.dim(-1) * in_features_ * out_features_;
}

std::string Linear::label() const { return fmt::format("Linear {}", out_features_); }

}  // namespace kestrel::nn
