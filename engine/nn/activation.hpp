#pragma once
// Element-wise activations, torch.nn.ReLU and torch.nn.Tanh. Both run in place when the graph
// allows it, and their backward passes read only the output y. A Linear before a ReLU absorbs
// it (the graph then skips the ReLU's forward).
#include "engine/nn/layer.hpp"

namespace kestrel::nn {

class ReLU : public UnaryLayer {
 public:
  using UnaryLayer::UnaryLayer;
  std::string_view type() const override { return "ReLU"; }
  Shape setup(const Shape& input) override { return input; }
  void forward(const Context& ctx, const Tensor& x, Tensor& y, const StepInfo& step) override;
  void backward(const Context& ctx, const Tensor& x, const Tensor& y, const Tensor& dy, Tensor* dx,
                const StepInfo& step) override;
  Aliasing aliasing() const override { return Aliasing::InPlace; }
  bool backward_needs_input() const override { return false; }
  bool backward_needs_output() const override { return true; }
  std::string_view nonlinearity() const override { return "relu"; }
};

class Tanh : public UnaryLayer {
 public:
  using UnaryLayer::UnaryLayer;
  std::string_view type() const override { return "Tanh"; }
  Shape setup(const Shape& input) override { return input; }
  void forward(const Context& ctx, const Tensor& x, Tensor& y, const StepInfo& step) override;
  void backward(const Context& ctx, const Tensor& x, const Tensor& y, const Tensor& dy, Tensor* dx,
                const StepInfo& step) override;
  Aliasing aliasing() const override { return Aliasing::InPlace; }
  bool backward_needs_input() const override { return false; }
  bool backward_needs_output() const override { return true; }
  std::string_view nonlinearity() const override { return "tanh"; }
};

}  // namespace kestrel::nn
