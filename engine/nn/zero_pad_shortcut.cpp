#include "engine/nn/zero_pad_shortcut.hpp"

#include "kernels/common/error.hpp"

namespace kestrel::nn {

ZeroPadShortcut::ZeroPadShortcut(std::string name, int stride, int64_t out_channels)
    : UnaryLayer(std::move(name)) {
  KESTREL_CHECK(stride >= 1 && out_channels >= 1,
                "ZeroPadShortcut '{}': stride {} and out_channels {} must be positive",
                this->name(), stride, out_channels);
  spec_.stride = stride;
  spec_.out_channels = out_channels;
  spec_.pad = out_channels / 4;  // planes // 4 on each side
}

Shape ZeroPadShortcut::setup(const Shape& input) {
  KESTREL_CHECK(input.ndim() == 4, "ZeroPadShortcut '{}': input must be [N, C, H, W], got {}",
                name(), input.str());
  KESTREL_CHECK(input[1] + 2 * spec_.pad == spec_.out_channels,
                "ZeroPadShortcut '{}': {} input channels padded with {} // 4 = {} zero channels "
                "on each side give {}, not {} (option A expects {} input channels)",
                name(), input[1], spec_.out_channels, spec_.pad, input[1] + 2 * spec_.pad,
                spec_.out_channels, spec_.out_channels - 2 * spec_.pad);
  return ops::zero_pad_shortcut_output_shape(input, spec_);
}

void ZeroPadShortcut::forward(const Context& ctx, const Tensor& x, Tensor& y,
                              const StepInfo& step) {
  (void)step;
  ops::zero_pad_shortcut_forward(ctx, x, y, spec_);
}

void ZeroPadShortcut::backward(const Context& ctx, const Tensor& x, const Tensor& y,
                               const Tensor& dy, Tensor* dx, const StepInfo& step) {
  (void)x;
  (void)y;
  (void)step;
  if (dx != nullptr) ops::zero_pad_shortcut_backward(ctx, dy, *dx, spec_);
}

}  // namespace kestrel::nn
