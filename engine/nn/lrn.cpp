#include "engine/nn/lrn.hpp"

#include "kernels/common/error.hpp"

namespace kestrel::nn {

LocalResponseNorm::LocalResponseNorm(std::string name, int size, float alpha, float beta, float k)
    : UnaryLayer(std::move(name)), spec_{size, alpha, beta, k} {
  KESTREL_CHECK(size >= 1, "LocalResponseNorm '{}': size must be at least 1, got {}", this->name(),
                size);
}

Shape LocalResponseNorm::setup(const Shape& input) {
  KESTREL_CHECK(input.ndim() >= 3,
                "LocalResponseNorm: input must have at least 3 dimensions (N, C, ...), got {}",
                input.str());
  input_ = input;
  return input;
}

void LocalResponseNorm::forward(const Context& ctx, const Tensor& x, Tensor& y,
                                const StepInfo& step) {
  (void)step;
  Tensor scale = scale_.slice(0, x.dim(0));
  ops::lrn_forward(ctx, x, y, scale, spec_);
}

void LocalResponseNorm::backward(const Context& ctx, const Tensor& x, const Tensor& y,
                                 const Tensor& dy, Tensor* dx, const StepInfo& step) {
  (void)step;
  if (dx != nullptr) ops::lrn_backward(ctx, x, y, scale_.slice(0, x.dim(0)), dy, *dx, spec_);
}

}  // namespace kestrel::nn
