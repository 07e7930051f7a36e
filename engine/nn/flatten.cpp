#include "engine/nn/flatten.hpp"

#include "kernels/common/error.hpp"

namespace kestrel::nn {

Flatten::Flatten(std::string name, int start_dim, int end_dim)
    : UnaryLayer(std::move(name)), start_dim_(start_dim), end_dim_(end_dim) {}

Shape Flatten::setup(const Shape& input) {
  const int n = input.ndim();
  const int start = start_dim_ < 0 ? start_dim_ + n : start_dim_;
  const int end = end_dim_ < 0 ? end_dim_ + n : end_dim_;
  KESTREL_CHECK(start >= 1 && start <= end && end < n,
                "Flatten: dimensions [{}, {}] out of range for input {} (the batch dimension 0 "
                "stays)",
                start_dim_, end_dim_, input.str());
  int64_t dims[Shape::kMaxDims];
  int out = 0;
  for (int i = 0; i < start; ++i) dims[out++] = input[i];
  int64_t merged = 1;
  for (int i = start; i <= end; ++i) merged *= input[i];
  dims[out++] = merged;
  for (int i = end + 1; i < n; ++i) dims[out++] = input[i];
  return Shape::from(dims, out);
}

void Flatten::forward(const Context& ctx, const Tensor& x, Tensor& y, const StepInfo& step) {
  (void)ctx;
  (void)step;
  if (y.raw_data() != x.raw_data()) y.copy_from(x.view(y.shape()));
}

void Flatten::backward(const Context& ctx, const Tensor& x, const Tensor& y, const Tensor& dy,
                       Tensor* dx, const StepInfo& step) {
  (void)ctx;
  (void)x;
  (void)y;
  (void)step;
  if (dx != nullptr && dx->raw_data() != dy.raw_data()) dx->copy_from(dy.view(dx->shape()));
}

}  // namespace kestrel::nn
