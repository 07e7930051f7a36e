#include "engine/nn/concat.hpp"

#include "engine/ops/concat.hpp"
#include "kernels/common/error.hpp"

namespace kestrel::nn {

Shape Concat::setup_inputs(std::span<const Shape> inputs) {
  const Shape& first = inputs[0];
  KESTREL_CHECK(first.ndim() >= 2, "Concat: inputs must be [N, C, ...], got {}", first.str());
  Shape out = first;
  channels_.assign(1, first[1]);
  for (size_t i = 1; i < inputs.size(); ++i) {
    bool same = inputs[i].ndim() == first.ndim();
    for (int d = 0; same && d < first.ndim(); ++d) same = d == 1 || inputs[i][d] == first[d];
    KESTREL_CHECK(same, "Concat: input {} is {} but input 0 is {} (only channels may differ)", i,
                  inputs[i].str(), first.str());
    out[1] += inputs[i][1];
    channels_.push_back(inputs[i][1]);
  }
  return out;
}

void Concat::forward_inputs(const Context& ctx, std::span<const Tensor> inputs, Tensor& y,
                            const StepInfo& step) {
  (void)step;
  ops::concat_channels_forward(ctx, inputs, y);
}

void Concat::backward_inputs(const Context& ctx, std::span<const Tensor> inputs, const Tensor& y,
                             const Tensor& dy, InputGrads dinputs, const StepInfo& step) {
  (void)inputs;
  (void)y;
  (void)step;
  ops::concat_channels_backward(ctx, dy, channels_, dinputs);
}

}  // namespace kestrel::nn
