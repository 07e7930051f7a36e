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

void Sigmoid::forward(const Context& ctx, const Tensor& x, Tensor& y, const StepInfo& step) {
  (void)step;
  ops::sigmoid_forward(ctx, x, y);
}

void Sigmoid::backward(const Context& ctx, const Tensor& x, const Tensor& y, const Tensor& dy,
                       Tensor* dx, const StepInfo& step) {
  (void)x;
  (void)step;
  if (dx != nullptr) ops::sigmoid_backward(ctx, y, dy, *dx);
}

void SiLU::forward(const Context& ctx, const Tensor& x, Tensor& y, const StepInfo& step) {
  (void)step;
  ops::silu_forward(ctx, x, y);
}

void SiLU::backward(const Context& ctx, const Tensor& x, const Tensor& y, const Tensor& dy,
                    Tensor* dx, const StepInfo& step) {
  (void)y;
  (void)step;
  if (dx != nullptr) ops::silu_backward(ctx, x, dy, *dx);
}

void GELU::forward(const Context& ctx, const Tensor& x, Tensor& y, const StepInfo& step) {
  (void)step;
  ops::gelu_forward(ctx, x, y, approximate_);
}

void GELU::backward(const Context& ctx, const Tensor& x, const Tensor& y, const Tensor& dy,
                    Tensor* dx, const StepInfo& step) {
  (void)y;
  (void)step;
  if (dx != nullptr) ops::gelu_backward(ctx, x, dy, *dx, approximate_);
}

void Hardswish::forward(const Context& ctx, const Tensor& x, Tensor& y, const StepInfo& step) {
  (void)step;
  ops::hardswish_forward(ctx, x, y);
}

void Hardswish::backward(const Context& ctx, const Tensor& x, const Tensor& y, const Tensor& dy,
                         Tensor* dx, const StepInfo& step) {
  (void)y;
  (void)step;
  if (dx != nullptr) ops::hardswish_backward(ctx, x, dy, *dx);
}

void ReLU6::forward(const Context& ctx, const Tensor& x, Tensor& y, const StepInfo& step) {
  (void)step;
  ops::relu6_forward(ctx, x, y);
}

void ReLU6::backward(const Context& ctx, const Tensor& x, const Tensor& y, const Tensor& dy,
                     Tensor* dx, const StepInfo& step) {
  (void)x;
  (void)step;
  if (dx != nullptr) ops::relu6_backward(ctx, y, dy, *dx);
}

}  // namespace kestrel::nn
