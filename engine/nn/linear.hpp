#pragma once
// Linear: torch.nn.Linear. weight [out, in], bias [out]; input [N, ..., in] -> [N, ..., out], the
// leading dimensions taken as rows (a ViT's MLP on [N, tokens, D]). When the graph offers it a ReLU
// that runs in place on its output, it absorbs the ReLU into the product (ops::linear_forward with
// relu): the output is then the ReLU's, and the ReLU layer's backward masks the gradient with it.
#include "engine/nn/layer.hpp"

namespace kestrel::nn {

struct LinearOptions {
  bool bias = true;
  // How the weight and bias start: by the graph's scheme, or starts of their own (layer.hpp;
  // scale: Normal's standard deviation, Uniform's bound). A scheme bias with a weight that is
  // not drawn by the scheme is refused at planning.
  ParamInit weight_init = ParamInit::Scheme;
  float weight_scale = 0.0f;
  ParamInit bias_init = ParamInit::Scheme;
  float bias_scale = 0.0f;
};

class Linear : public UnaryLayer {
 public:
  // in_features 0: taken from the input at setup (torch.nn.LazyLinear).
  Linear(std::string name, int64_t in_features, int64_t out_features, bool bias = true);
  Linear(std::string name, int64_t in_features, int64_t out_features,
         const LinearOptions& options);

  std::string_view type() const override { return "Linear"; }
  Shape setup(const Shape& input) override;
  std::vector<ParamSpec> params() const override;
  void bind_params(std::span<const Tensor> params, std::span<const Tensor> grads) override;
  void forward(const Context& ctx, const Tensor& x, Tensor& y, const StepInfo& step) override;
  void backward(const Context& ctx, const Tensor& x, const Tensor& y, const Tensor& dy, Tensor* dx,
                const StepInfo& step) override;
  int64_t multiply_adds(const Shape& input) const override;
  std::string label() const override;

  // Absorbs a ReLU that runs in place on the output: max(0, .) is applied in the product.
  bool absorb(const Layer* next) override;
  bool fused_relu() const { return fused_relu_; }

 private:
  int64_t in_features_, out_features_;
  bool infer_in_features_;
  bool has_bias_;
  ParamStart weight_init_, bias_init_;
  bool fused_relu_ = false;
  Tensor weight_, bias_, grad_weight_, grad_bias_;
};

}  // namespace kestrel::nn
