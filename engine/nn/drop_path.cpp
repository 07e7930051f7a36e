#include "engine/nn/drop_path.hpp"

#include <fmt/format.h>

#include "engine/nn/summary.hpp"
#include "kernels/common/error.hpp"

namespace kestrel::nn {

DropPath::DropPath(std::string name, float p) : UnaryLayer(std::move(name)), p_(p) {
  KESTREL_CHECK(p >= 0.0f && p <= 1.0f, "DropPath '{}': p must be in [0, 1], got {}", this->name(),
                p);
}

kernels::DropoutSpec DropPath::spec(const StepInfo& step) const {
  kernels::DropoutSpec spec{p_, step.seed, kernels::dropout_stream(step.step, index())};
  spec.step_on_device = step.step_on_device;
  spec.layer = index();
  return spec;
}

void DropPath::forward(const Context& ctx, const Tensor& x, Tensor& y, const StepInfo& step) {
  ops::drop_path_forward(ctx, x, y, spec(step), step.training);
}

void DropPath::backward(const Context& ctx, const Tensor& x, const Tensor& y, const Tensor& dy,
                        Tensor* dx, const StepInfo& step) {
  (void)x;
  (void)y;
  if (dx != nullptr) ops::drop_path_backward(ctx, dy, *dx, spec(step), step.training);
}

void DropPath::describe(LayerSummary& row) const { row.dropout = p_; }

std::string DropPath::label() const { return fmt::format("StochasticDepth {:g}", p_); }

}  // namespace kestrel::nn
