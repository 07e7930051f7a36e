#pragma once
// Element-wise activations with PyTorch's module names: ReLU, Tanh, Sigmoid, SiLU, GELU,
// Hardswish and ReLU6. Each may run in place; the graph does so only where safe, which needs a
// backward that does not read the input: ReLU, Tanh, Sigmoid and ReLU6 differentiate from their
// output y, SiLU, GELU and Hardswish from their input x (their output does not determine it).
// A Linear before a ReLU absorbs it (the graph then skips the ReLU's forward).
//
// nonlinearity() gives Graph::initialize the activation's gain (init::gain_name): "relu",
// "tanh" and "sigmoid" are torch.nn.init.calculate_gain's own; "silu", "gelu", "hardswish" and
// "relu6", which calculate_gain does not know, get relu's sqrt(2), the gain torchvision's
// EfficientNet, MobileNetV2 and MobileNetV3 use for their convolutions (engine/init/init.hpp).
#include "engine/nn/layer.hpp"
#include "engine/ops/activation.hpp"

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

// torch.nn.Sigmoid; backward from y: dy * (1 - y) * y.
class Sigmoid : public UnaryLayer {
 public:
  using UnaryLayer::UnaryLayer;
  std::string_view type() const override { return "Sigmoid"; }
  Shape setup(const Shape& input) override { return input; }
  void forward(const Context& ctx, const Tensor& x, Tensor& y, const StepInfo& step) override;
  void backward(const Context& ctx, const Tensor& x, const Tensor& y, const Tensor& dy, Tensor* dx,
                const StepInfo& step) override;
  Aliasing aliasing() const override { return Aliasing::InPlace; }
  bool backward_needs_input() const override { return false; }
  bool backward_needs_output() const override { return true; }
  std::string_view nonlinearity() const override { return "sigmoid"; }
};

// torch.nn.SiLU, x * sigmoid(x); backward from x.
class SiLU : public UnaryLayer {
 public:
  using UnaryLayer::UnaryLayer;
  std::string_view type() const override { return "SiLU"; }
  Shape setup(const Shape& input) override { return input; }
  void forward(const Context& ctx, const Tensor& x, Tensor& y, const StepInfo& step) override;
  void backward(const Context& ctx, const Tensor& x, const Tensor& y, const Tensor& dy, Tensor* dx,
                const StepInfo& step) override;
  Aliasing aliasing() const override { return Aliasing::InPlace; }
  bool backward_needs_input() const override { return true; }
  bool backward_needs_output() const override { return false; }
  std::string_view nonlinearity() const override { return "silu"; }
};

// torch.nn.GELU(approximate='none' | 'tanh'); backward from x.
class GELU : public UnaryLayer {
 public:
  explicit GELU(std::string name, ops::GeluApproximation approximate = ops::GeluApproximation::None)
      : UnaryLayer(std::move(name)), approximate_(approximate) {}
  std::string_view type() const override { return "GELU"; }
  Shape setup(const Shape& input) override { return input; }
  void forward(const Context& ctx, const Tensor& x, Tensor& y, const StepInfo& step) override;
  void backward(const Context& ctx, const Tensor& x, const Tensor& y, const Tensor& dy, Tensor* dx,
                const StepInfo& step) override;
  Aliasing aliasing() const override { return Aliasing::InPlace; }
  bool backward_needs_input() const override { return true; }
  bool backward_needs_output() const override { return false; }
  std::string_view nonlinearity() const override { return "gelu"; }

  ops::GeluApproximation approximate() const { return approximate_; }

 private:
  ops::GeluApproximation approximate_;
};

// torch.nn.Hardswish, x * relu6(x + 3) / 6; backward from x (0 at x = -3, 1 at x = 3).
class Hardswish : public UnaryLayer {
 public:
  using UnaryLayer::UnaryLayer;
  std::string_view type() const override { return "Hardswish"; }
  Shape setup(const Shape& input) override { return input; }
  void forward(const Context& ctx, const Tensor& x, Tensor& y, const StepInfo& step) override;
  void backward(const Context& ctx, const Tensor& x, const Tensor& y, const Tensor& dy, Tensor* dx,
                const StepInfo& step) override;
  Aliasing aliasing() const override { return Aliasing::InPlace; }
  bool backward_needs_input() const override { return true; }
  bool backward_needs_output() const override { return false; }
  std::string_view nonlinearity() const override { return "hardswish"; }
};

// torch.nn.ReLU6 = Hardtanh(0, 6); backward from y (0 at and beyond 0 and 6).
class ReLU6 : public UnaryLayer {
 public:
  using UnaryLayer::UnaryLayer;
  std::string_view type() const override { return "ReLU6"; }
  Shape setup(const Shape& input) override { return input; }
  void forward(const Context& ctx, const Tensor& x, Tensor& y, const StepInfo& step) override;
  void backward(const Context& ctx, const Tensor& x, const Tensor& y, const Tensor& dy, Tensor* dx,
                const StepInfo& step) override;
  Aliasing aliasing() const override { return Aliasing::InPlace; }
  bool backward_needs_input() const override { return false; }
  bool backward_needs_output() const override { return true; }
  std::string_view nonlinearity() const override { return "relu6"; }
};

}  // namespace kestrel::nn
