#include "engine/nn/scale_channels.hpp"

#include "engine/ops/scale_channels.hpp"
#include "kernels/common/error.hpp"

namespace kestrel::nn {

Shape ScaleChannels::setup_inputs(std::span<const Shape> inputs) {
  KESTREL_CHECK(inputs.size() == 2, "ScaleChannels '{}': needs 2 inputs (x, scale), got {}", name(),
                inputs.size());
  return ops::scale_channels_output_shape(inputs[0], inputs[1]);
}

void ScaleChannels::forward_inputs(const Context& ctx, std::span<const Tensor> inputs, Tensor& y,
                                   const StepInfo& step) {
  (void)step;
  ops::scale_channels_forward(ctx, inputs[0], inputs[1], y);
}

void ScaleChannels::backward_inputs(const Context& ctx, std::span<const Tensor> inputs,
                                    const Tensor& y, const Tensor& dy, InputGrads dinputs,
                                    const StepInfo& step) {
  (void)y;
  (void)step;
  ops::scale_channels_backward(ctx, inputs[0], inputs[1], dy, dinputs[0], dinputs[1]);
}

}  // namespace kestrel::nn
