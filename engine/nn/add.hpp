#pragma once
// Add: the sum of two or more values of one shape (a residual connection: `out += identity` in
// torchvision's ResNet blocks). It runs in place on its first input when the graph allows it,
// and its backward, the identity for every input, reads neither inputs nor output.
#include "engine/nn/layer.hpp"

namespace kestrel::nn {

class Add : public Layer {
 public:
  using Layer::Layer;

  std::string_view type() const override { return "Add"; }
  int arity() const override { return 0; }
  Shape setup_inputs(std::span<const Shape> inputs) override;
  void forward_inputs(const Context& ctx, std::span<const Tensor> inputs, Tensor& y,
                      const StepInfo& step) override;
  void backward_inputs(const Context& ctx, std::span<const Tensor> inputs, const Tensor& y,
                       const Tensor& dy, InputGrads dinputs, const StepInfo& step) override;
  Aliasing aliasing() const override { return Aliasing::InPlace; }
  bool backward_needs_input() const override { return false; }
};

}  // namespace kestrel::nn
