#pragma once
// Element-wise activations, torch.nn.ReLU and torch.nn.Tanh. Both run in place when the graph
// allows it, and their backward passes read only the output y.
#include "engine/nn/layer.hpp"

namespace kestrel::nn {

class ReLU : public Layer {
 public:
  using Layer::Layer;
  std::string_view type() const override { return "ReLU"; }
  Shape setup(const Shape& input) override { return input; }
  void forward(const Context& ctx, const Tensor& x, Tensor& y, const StepInfo& step) override;
  void backward(const Context& ctx, const Tensor& x, const Tensor& y, const Tensor& dy, Tensor* dx,
                const StepInfo& step) override;
  Aliasing aliasing() const override { return Aliasing::InPlace; }
  bool backward_needs_output() const override { return true; }

  // The preceding Linear already applied the ReLU (set by the graph): forward does nothing.
  void set_fused(bool fused) { fused_ = fused; }
  bool fused() const { return fused_; }

 private:
  bool fused_ = false;
};

class Tanh : public Layer {
 public:
  using Layer::Layer;
  std::string_view type() const override { return "Tanh"; }
  Shape setup(const Shape& input) override { return input; }
  void forward(const Context& ctx, const Tensor& x, Tensor& y, const StepInfo& step) override;
  void backward(const Context& ctx, const Tensor& x, const Tensor& y, const Tensor& dy, Tensor* dx,
                const StepInfo& step) override;
  Aliasing aliasing() const override { return Aliasing::InPlace; }
  bool backward_needs_output() const override { return true; }
};

}  // namespace kestrel::nn
