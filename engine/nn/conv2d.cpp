#include "engine/nn/conv2d.hpp"

#include <fmt/format.h>

#include "engine/nn/batch_norm.hpp"
#include "engine/nn/summary.hpp"
#include "engine/ops/dispatch.hpp"
#include "kernels/common/batch_norm_fold.hpp"
#include "kernels/common/error.hpp"

namespace kestrel::nn {

Conv2d::Conv2d(std::string name, int64_t in_channels, int64_t out_channels, int kernel_size,
               const Conv2dOptions& options)
    : UnaryLayer(std::move(name)),
      in_channels_(in_channels),
      out_channels_(out_channels),
      infer_in_channels_(in_channels == 0),
      kernel_size_(kernel_size),
      has_bias_(options.bias),
      weight_init_{options.weight_init, options.weight_scale},
      bias_init_{options.bias_init, options.bias_scale} {
  KESTREL_CHECK(in_channels >= 0 && out_channels > 0 && kernel_size > 0,
                "Conv2d '{}': in_channels {}, out_channels {} and kernel_size {} must be positive",
                this->name(), in_channels, out_channels, kernel_size);
  spec_.stride_h = spec_.stride_w = options.stride;
  spec_.pad_h = spec_.pad_w = options.padding;
  spec_.dilation_h = spec_.dilation_w = options.dilation;
  spec_.groups = options.groups;
}

Shape Conv2d::weight_shape() const {
  return Shape{out_channels_, in_channels_ / spec_.groups, kernel_size_, kernel_size_};
}

Shape Conv2d::setup(const Shape& input) {
  KESTREL_CHECK(input.ndim() == 4, "Conv2d: input must be 4-D [N, C, H, W], got {}", input.str());
  if (infer_in_channels_) in_channels_ = input[1];
  KESTREL_CHECK(input[1] == in_channels_,
                "Conv2d: input has {} channels but the layer expects {} (input {})", input[1],
                in_channels_, input.str());
  KESTREL_CHECK(in_channels_ % spec_.groups == 0,
                "Conv2d: groups {} does not divide {} input channels", spec_.groups, in_channels_);
  return ops::conv2d_output_shape(input, weight_shape(), spec_);
}

std::vector<ParamSpec> Conv2d::params() const {
  std::vector<ParamSpec> p{
      {"weight", weight_shape(), ParamKind::Weight, weight_init_.how, weight_init_.scale}};
  if (has_bias_)
    p.push_back({"bias", Shape{out_channels_}, ParamKind::Bias, bias_init_.how, bias_init_.scale});
  return p;
}

void Conv2d::bind_params(std::span<const Tensor> params, std::span<const Tensor> grads) {
  weight_ = params[0];
  grad_weight_ = grads[0];
  if (has_bias_) {
    bias_ = params[1];
    grad_bias_ = grads[1];
  }
}

void Conv2d::forward(const Context& ctx, const Tensor& x, Tensor& y, const StepInfo& step) {
  (void)step;
  ops::conv2d_forward(ctx, x, weight_, has_bias_ ? &bias_ : nullptr, y, spec_);
}

void Conv2d::backward(const Context& ctx, const Tensor& x, const Tensor& y, const Tensor& dy,
                      Tensor* dx, const StepInfo& step) {
  (void)y;
  (void)step;
  // A frozen parameter has no gradient view.
  if (grad_weight_.defined()) ops::conv2d_backward_weight(ctx, x, dy, grad_weight_, spec_);
  if (grad_bias_.defined()) ops::conv2d_backward_bias(ctx, dy, grad_bias_);
  if (dx != nullptr) ops::conv2d_backward_data(ctx, dy, weight_, *dx, spec_);
}

int64_t Conv2d::multiply_adds(const Shape& input) const {
  const ops::Conv2dGeometry g = ops::conv2d_geometry(input, weight_shape(), spec_);
  return g.n * g.k * g.oh * g.ow * g.col_rows();
}

void Conv2d::describe(LayerSummary& row) const {
  row.kernel = kernel_size_;
  row.stride = spec_.stride_h;
}

std::string Conv2d::label() const {
  std::string out =
      fmt::format("Conv2d {}x{}/{} {}", kernel_size_, kernel_size_, spec_.stride_h, out_channels_);
  if (spec_.groups > 1 && spec_.groups == in_channels_) {
    out += " depthwise";
  } else if (spec_.groups > 1) {
    out += fmt::format(" g{}", spec_.groups);
  }
  return out;
}

int64_t Conv2d::eval_fold_numel(const Layer& next) const {
  const auto* bn = dynamic_cast<const BatchNorm2d*>(&next);
  if (bn == nullptr || !bn->options().track_running_stats) return 0;
  return weight_shape().numel() + out_channels_;
}

void Conv2d::forward_folded(const Context& ctx, const Layer& next, const Tensor& x, Tensor& y,
                            Tensor& scratch) const {
  const auto& bn = static_cast<const BatchNorm2d&>(next);
  const Shape w = weight_shape();
  Tensor folded_w = scratch.sub(0, w);
  Tensor folded_b = scratch.sub(w.numel(), Shape{out_channels_});
  const bool affine = bn.weight().defined();
  const kernels::FoldBatchNorm fold{scratch.data<float>(),
                                    weight_.data<float>(),
                                    has_bias_ ? bias_.data<float>() : nullptr,
                                    affine ? bn.weight().data<float>() : nullptr,
                                    affine ? bn.bias().data<float>() : nullptr,
                                    bn.running().mean.data<float>(),
                                    bn.running().var.data<float>(),
                                    bn.options().eps,
                                    out_channels_,
                                    w.numel() / out_channels_};
  ops::detail::launch_elementwise(ctx, w.numel() + out_channels_, fold);
  ops::conv2d_forward(ctx, x, folded_w, &folded_b, y, spec_);
}

}  // namespace kestrel::nn
