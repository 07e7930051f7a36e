#pragma once
// Scale: y = factor * x for a constant factor (airbench's Mul module, which multiplies the
// logits by 1/9). Not a parameter: the factor changes how fast the layer before it learns (its
// gradient is scaled by the factor too), which a rescaled initialisation would not reproduce.
#include "engine/nn/layer.hpp"

namespace kestrel::nn {

class Scale : public UnaryLayer {
 public:
  // factor: finite and non-zero; throws kestrel::Error otherwise.
  Scale(std::string name, float factor);

  std::string_view type() const override { return "Mul"; }
  Shape setup(const Shape& input) override { return input; }
  void forward(const Context& ctx, const Tensor& x, Tensor& y, const StepInfo& step) override;
  void backward(const Context& ctx, const Tensor& x, const Tensor& y, const Tensor& dy, Tensor* dx,
                const StepInfo& step) override;
  bool backward_needs_input() const override { return false; }
  bool backward_needs_output() const override { return false; }
  std::string label() const override;

  float factor() const { return factor_; }

 private:
  float factor_;
};

}  // namespace kestrel::nn
