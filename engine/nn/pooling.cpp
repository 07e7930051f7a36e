#include "engine/nn/pooling.hpp"

#include <fmt/format.h>

#include "engine/nn/summary.hpp"
#include "kernels/common/error.hpp"

namespace kestrel::nn {

namespace {

ops::Pool2dSpec pool_spec(std::string_view layer, std::string_view name, int kernel_size,
                          const PoolOptions& o) {
  KESTREL_CHECK(kernel_size > 0 && o.stride >= 0 && o.padding >= 0,
                "{} '{}': kernel_size {} must be positive, stride {} and padding {} non-negative",
                layer, name, kernel_size, o.stride, o.padding);
  const int stride = o.stride == 0 ? kernel_size : o.stride;
  ops::Pool2dSpec s{kernel_size, kernel_size, stride, stride, o.padding, o.padding};
  s.ceil_mode = o.ceil_mode;
  s.count_include_pad = o.count_include_pad;
  return s;
}

}  // namespace

MaxPool2d::MaxPool2d(std::string name, int kernel_size, const PoolOptions& options)
    : UnaryLayer(std::move(name)),
      spec_(pool_spec("MaxPool2d", this->name(), kernel_size, options)) {}

Shape MaxPool2d::setup(const Shape& input) {
  output_ = ops::pool2d_output_shape(input, spec_);
  return output_;
}

std::vector<SavedSpec> MaxPool2d::saved() const { return {{output_, DType::I32}}; }

void MaxPool2d::forward(const Context& ctx, const Tensor& x, Tensor& y, const StepInfo& step) {
  (void)step;
  Tensor argmax = argmax_.slice(0, x.dim(0));
  ops::max_pool2d_forward(ctx, x, y, argmax, spec_);
}

void MaxPool2d::backward(const Context& ctx, const Tensor& x, const Tensor& y, const Tensor& dy,
                         Tensor* dx, const StepInfo& step) {
  (void)y;
  (void)step;
  if (dx != nullptr) ops::max_pool2d_backward(ctx, dy, argmax_.slice(0, x.dim(0)), *dx, spec_);
}

AvgPool2d::AvgPool2d(std::string name, int kernel_size, const PoolOptions& options)
    : UnaryLayer(std::move(name)),
      spec_(pool_spec("AvgPool2d", this->name(), kernel_size, options)) {}

Shape AvgPool2d::setup(const Shape& input) { return ops::pool2d_output_shape(input, spec_); }

void AvgPool2d::forward(const Context& ctx, const Tensor& x, Tensor& y, const StepInfo& step) {
  (void)step;
  ops::avg_pool2d_forward(ctx, x, y, spec_);
}

void AvgPool2d::backward(const Context& ctx, const Tensor& x, const Tensor& y, const Tensor& dy,
                         Tensor* dx, const StepInfo& step) {
  (void)x;
  (void)y;
  (void)step;
  if (dx != nullptr) ops::avg_pool2d_backward(ctx, dy, *dx, spec_);
}

AdaptiveAvgPool2d::AdaptiveAvgPool2d(std::string name, int output_h, int output_w)
    : UnaryLayer(std::move(name)), output_h_(output_h), output_w_(output_w) {
  KESTREL_CHECK(output_h > 0 && output_w > 0,
                "AdaptiveAvgPool2d '{}': output size {}x{} must be positive", this->name(),
                output_h, output_w);
}

Shape AdaptiveAvgPool2d::setup(const Shape& input) {
  return ops::adaptive_avg_pool2d_output_shape(input, output_h_, output_w_);
}

void AdaptiveAvgPool2d::forward(const Context& ctx, const Tensor& x, Tensor& y,
                                const StepInfo& step) {
  (void)step;
  ops::adaptive_avg_pool2d_forward(ctx, x, y);
}

void AdaptiveAvgPool2d::backward(const Context& ctx, const Tensor& x, const Tensor& y,
                                 const Tensor& dy, Tensor* dx, const StepInfo& step) {
  (void)x;
  (void)y;
  (void)step;
  if (dx != nullptr) ops::adaptive_avg_pool2d_backward(ctx, dy, *dx);
}

void MaxPool2d::describe(LayerSummary& row) const {
  row.kernel = spec_.kernel_h;
  row.stride = spec_.stride_h;
}

void AvgPool2d::describe(LayerSummary& row) const {
  row.kernel = spec_.kernel_h;
  row.stride = spec_.stride_h;
}

std::string MaxPool2d::label() const {
  return fmt::format("MaxPool2d {}x{}/{}", spec_.kernel_h, spec_.kernel_w, spec_.stride_h);
}

std::string AvgPool2d::label() const {
  return fmt::format("AvgPool2d {}x{}/{}", spec_.kernel_h, spec_.kernel_w, spec_.stride_h);
}

std::string AdaptiveAvgPool2d::label() const {
  return fmt::format("AdaptiveAvgPool2d {}x{}", output_h_, output_w_);
}

}  // namespace kestrel::nn
