#pragma once
// Concat: torch.cat(inputs, dim=1), the channel concatenation of Inception modules and DenseNet
// blocks. Its backward hands each input its channel slice of the gradient and reads neither
// inputs nor output.
#include "engine/nn/layer.hpp"

namespace kestrel::nn {

class Concat : public Layer {
 public:
  using Layer::Layer;

  std::string_view type() const override { return "Concat"; }
  int arity() const override { return 0; }
  Shape setup_inputs(std::span<const Shape> inputs) override;
  void forward_inputs(const Context& ctx, std::span<const Tensor> inputs, Tensor& y,
                      const StepInfo& step) override;
  void backward_inputs(const Context& ctx, std::span<const Tensor> inputs, const Tensor& y,
                       const Tensor& dy, InputGrads dinputs, const StepInfo& step) override;
  bool backward_needs_input() const override { return false; }

 private:
  std::vector<int64_t> channels_;  // per input (some inputs may need no gradient)
};

}  // namespace kestrel::nn
