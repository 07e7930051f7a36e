#include "engine/nn/add.hpp"

#include "engine/ops/add.hpp"
#include "kernels/common/error.hpp"

namespace kestrel::nn {

Shape Add::setup_inputs(std::span<const Shape> inputs) {
  for (size_t i = 1; i < inputs.size(); ++i)
    KESTREL_CHECK(inputs[i] == inputs[0], "Add: input {} is {} but input 0 is {}", i,
                  inputs[i].str(), inputs[0].str());
  return inputs[0];
}

void Add::forward_inputs(const Context& ctx, std::span<const Tensor> inputs, Tensor& y,
                         const StepInfo& step) {
  (void)step;
  ops::add_forward(ctx, inputs, y);
}

void Add::backward_inputs(const Context& ctx, std::span<const Tensor> inputs, const Tensor& y,
                          const Tensor& dy, InputGrads dinputs, const StepInfo& step) {
  (void)inputs;
  (void)y;
  (void)ctx;
  (void)step;
  // d(sum)/dx_i = 1: each gradient is dy itself (already so when it shares dy's memory).
  for (Tensor* dx : dinputs)
    if (dx != nullptr && dx->raw_data() != dy.raw_data()) dx->copy_from(dy);
}

}  // namespace kestrel::nn
