#include "engine/nn/activation.hpp"

#include "engine/ops/activation.hpp"

namespace kestrel::nn {

void ReLU::forward(const Context& ctx, const Tensor& x, Tensor& y, const StepInfo& step) {
  (void)step;
  ops::relu_forward(ctx, x, y);
}

void ReLU::backward(const Context& ctx, const Tensor& x, const Tensor& y, const Tensor& dy,
                    Tensor* dx, const StepInfo& step) {
  (void)x;
  (void)step;
  if (dx != nullptr) ops::relu_backward(ctx, y, dy, *dx);
}

void Tanh::forward(const Context& ctx, const Tensor& x, Tensor& y, const StepInfo& step) {
  (void)step;
  ops::tanh_forward(ctx, x, y);
}

void Tanh::backward(const Context& ctx, const Tensor& x, const Tensor& y, const Tensor& dy,
                    Tensor* dx, const StepInfo& step) {
  (void)x;
  (void)step;
  if (dx != nullptr) ops::tanh_backward(ctx, y, dy, *dx);
}

}  // namespace kestrel::nn
