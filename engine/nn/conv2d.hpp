#pragma once
// Conv2d: torch.nn.Conv2d with a square kernel. weight [out, in / groups, k, k], bias [out].
#include "engine/nn/layer.hpp"
#include "engine/ops/conv2d.hpp"

namespace kestrel::nn {

struct Conv2dOptions {
  int stride = 1;
  int padding = 0;
  int dilation = 1;
  int groups = 1;
  bool bias = true;
  // How the weight and bias start: by the graph's scheme, or starts of their own (layer.hpp;
  // scale: Normal's standard deviation, Uniform's bound). A scheme bias with a weight that is
  // not drawn by the scheme is refused at planning.
  ParamInit weight_init = ParamInit::Scheme;
  float weight_scale = 0.0f;
  ParamInit bias_init = ParamInit::Scheme;
  float bias_scale = 0.0f;
};

class Conv2d : public UnaryLayer {
 public:
  // in_channels 0: taken from the input at setup.
  Conv2d(std::string name, int64_t in_channels, int64_t out_channels, int kernel_size,
         const Conv2dOptions& options = {});

  std::string_view type() const override { return "Conv2d"; }
  Shape setup(const Shape& input) override;
  std::vector<ParamSpec> params() const override;
  void bind_params(std::span<const Tensor> params, std::span<const Tensor> grads) override;
  void forward(const Context& ctx, const Tensor& x, Tensor& y, const StepInfo& step) override;
  void backward(const Context& ctx, const Tensor& x, const Tensor& y, const Tensor& dy, Tensor* dx,
                const StepInfo& step) override;
  int64_t multiply_adds(const Shape& input) const override;
  void describe(LayerSummary& row) const override;
  std::string label() const override;
  // A BatchNorm2d with running statistics folds in: W' = W * s, b' = beta + (b - mean) * s,
  // s = gamma / sqrt(var + eps) per output channel (kernels/common/batch_norm_fold.hpp),
  // computed from the current values at every folded pass.
  int64_t eval_fold_numel(const Layer& next) const override;
  void forward_folded(const Context& ctx, const Layer& next, const Tensor& x, Tensor& y,
                      Tensor& scratch) const override;

  const ops::Conv2dSpec& spec() const { return spec_; }
  int kernel_size() const { return kernel_size_; }

 private:
  Shape weight_shape() const;

  int64_t in_channels_, out_channels_;
  bool infer_in_channels_;
  int kernel_size_;
  bool has_bias_;
  ParamStart weight_init_, bias_init_;
  ops::Conv2dSpec spec_;
  Tensor weight_, bias_, grad_weight_, grad_bias_;
};

}  // namespace kestrel::nn
