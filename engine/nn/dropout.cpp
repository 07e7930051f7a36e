#include "engine/nn/dropout.hpp"

#include <fmt/format.h>

#include "engine/nn/summary.hpp"
#include "kernels/common/error.hpp"

namespace kestrel::nn {

Dropout::Dropout(std::string name, float p) : UnaryLayer(std::move(name)), p_(p) {
  KESTREL_CHECK(p >= 0.0f && p <= 1.0f, "Dropout '{}': p must be in [0, 1], got {}", this->name(),
                p);
}

ops::DropoutSpec Dropout::spec(const StepInfo& step) const {
  ops::DropoutSpec spec{p_, step.seed, dropout_stream(step.step, index())};
  spec.step_on_device = step.step_on_device;
  spec.layer = index();
  return spec;
}

void Dropout::forward(const Context& ctx, const Tensor& x, Tensor& y, const StepInfo& step) {
  ops::dropout_forward(ctx, x, y, spec(step), step.training);
}

void Dropout::backward(const Context& ctx, const Tensor& x, const Tensor& y, const Tensor& dy,
                       Tensor* dx, const StepInfo& step) {
  (void)x;
  (void)y;
  if (dx != nullptr) ops::dropout_backward(ctx, dy, *dx, spec(step), step.training);
}

void Dropout::describe(LayerSummary& row) const { row.dropout = p_; }

std::string Dropout::label() const { return fmt::format("Dropout {:g}", p_); }

}  // namespace kestrel::nn
