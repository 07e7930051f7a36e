#pragma once
// Dropout: torch.nn.Dropout (inverted dropout, identity in evaluation). The mask of a step is
// drawn from Philox at (seed, dropout_stream(step, layer index), element), never stored: the
// backward pass regenerates it, the CPU and the GPU drop the same elements, and a resumed run
// draws the masks it would have drawn.
#include "engine/nn/layer.hpp"
#include "engine/ops/dropout.hpp"

namespace kestrel::nn {

using kernels::dropout_stream;

class Dropout : public UnaryLayer {
 public:
  // p: probability of zeroing an element, in [0, 1] (torch's default 0.5).
  explicit Dropout(std::string name, float p = 0.5f);

  std::string_view type() const override { return "Dropout"; }
  Shape setup(const Shape& input) override { return input; }
  void forward(const Context& ctx, const Tensor& x, Tensor& y, const StepInfo& step) override;
  void backward(const Context& ctx, const Tensor& x, const Tensor& y, const Tensor& dy, Tensor* dx,
                const StepInfo& step) override;
  Aliasing aliasing() const override { return Aliasing::InPlace; }
  bool backward_needs_input() const override { return false; }
  void describe(LayerSummary& row) const override;
  std::string label() const override;
  void disable_dropout() override { p_ = 0.0f; }

  float p() const { return p_; }
  // The op's spec for a step of this layer.
  ops::DropoutSpec spec(const StepInfo& step) const;

 private:
  float p_;
};

}  // namespace kestrel::nn
