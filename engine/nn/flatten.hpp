#pragma once
// Flatten: torch.nn.Flatten (torch.flatten(x, 1) in a forward method). A view: the graph gives
// it an output that shares the input's memory, so it computes nothing.
#include "engine/nn/layer.hpp"

namespace kestrel::nn {

class Flatten : public UnaryLayer {
 public:
  explicit Flatten(std::string name, int start_dim = 1, int end_dim = -1);

  std::string_view type() const override { return "Flatten"; }
  Shape setup(const Shape& input) override;
  // Copies only when y (dx) does not already share x's (dy's) memory.
  void forward(const Context& ctx, const Tensor& x, Tensor& y, const StepInfo& step) override;
  void backward(const Context& ctx, const Tensor& x, const Tensor& y, const Tensor& dy, Tensor* dx,
                const StepInfo& step) override;
  Aliasing aliasing() const override { return Aliasing::View; }
  bool backward_needs_input() const override { return false; }

 private:
  int start_dim_, end_dim_;
};

}  // namespace kestrel::nn
