#pragma once
// ScaleChannels: y = x * s, x [N, C, H, W] scaled per channel by s [N, C, 1, 1] (inputs in that
// order), the last step of a squeeze-and-excitation block: torchvision's SqueezeExcitation
// computes its scale (global average pool, 1x1 conv, activation, 1x1 conv, sigmoid) and returns
// `scale * input`. PyTorch has no module for the product itself (it is a broadcasting `*`), so
// the type name says what it does. Backward reads both inputs (dx = dy * s, ds = sum over H, W
// of dy * x), so the graph never runs it in place although it may.
#include "engine/nn/layer.hpp"

namespace kestrel::nn {

class ScaleChannels : public Layer {
 public:
  using Layer::Layer;

  std::string_view type() const override { return "ScaleChannels"; }
  int arity() const override { return 2; }
  Shape setup_inputs(std::span<const Shape> inputs) override;
  void forward_inputs(const Context& ctx, std::span<const Tensor> inputs, Tensor& y,
                      const StepInfo& step) override;
  void backward_inputs(const Context& ctx, std::span<const Tensor> inputs, const Tensor& y,
                       const Tensor& dy, InputGrads dinputs, const StepInfo& step) override;
  Aliasing aliasing() const override { return Aliasing::InPlace; }
  bool backward_needs_input() const override { return true; }
};

}  // namespace kestrel::nn
