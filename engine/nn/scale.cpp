#include "engine/nn/scale.hpp"

#include <cmath>
#include <fmt/format.h>

#include "engine/ops/tta_views.hpp"
#include "kernels/common/error.hpp"

namespace kestrel::nn {

Scale::Scale(std::string name, float factor) : UnaryLayer(std::move(name)), factor_(factor) {
  KESTREL_CHECK(std::isfinite(factor) && factor != 0.0f,
                "Scale {}: the factor must be finite and non-zero, got {}", this->name(), factor);
}

void Scale::forward(const Context& ctx, const Tensor& x, Tensor& y, const StepInfo& step) {
  (void)step;
  ops::add_weighted(ctx, x, factor_, /*first=*/true, y);
}

void Scale::backward(const Context& ctx, const Tensor& x, const Tensor& y, const Tensor& dy,
                     Tensor* dx, const StepInfo& step) {
  (void)x;
  (void)y;
  (void)step;
  if (dx != nullptr) ops::add_weighted(ctx, dy, factor_, /*first=*/true, *dx);
}

std::string Scale::label() const { return fmt::format("Mul {:g}", factor_); }

}  // namespace kestrel::nn
