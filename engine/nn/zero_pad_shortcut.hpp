#pragma once
// ZeroPadShortcut: the parameter-free shortcut of ResNet-20/32/44/56/110 on CIFAR-10 (He et al.
// 2016, option A) where a stage halves the resolution and doubles the channels: every
// stride-th row and column, with planes / 4 zero channels on each side. The common PyTorch
// implementations write it as a LambdaLayer,
//   F.pad(x[:, :, ::2, ::2], (0, 0, 0, 0, planes // 4, planes // 4), "constant", 0),
// which has no PyTorch module name (and no parameters or state to name), so the type name
// says what it does. out_channels is `planes`; the input must have planes - 2 * (planes / 4)
// channels (planes / 2 for the usual even planes), as the residual add that follows requires.
// Backward reads neither input nor output.
#include <cstdint>

#include "engine/nn/layer.hpp"
#include "engine/ops/zero_pad_shortcut.hpp"

namespace kestrel::nn {

class ZeroPadShortcut : public UnaryLayer {
 public:
  ZeroPadShortcut(std::string name, int stride, int64_t out_channels);

  std::string_view type() const override { return "ZeroPadShortcut"; }
  Shape setup(const Shape& input) override;
  void forward(const Context& ctx, const Tensor& x, Tensor& y, const StepInfo& step) override;
  void backward(const Context& ctx, const Tensor& x, const Tensor& y, const Tensor& dy, Tensor* dx,
                const StepInfo& step) override;
  bool backward_needs_input() const override { return false; }

  const ops::ZeroPadShortcutSpec& spec() const { return spec_; }

 private:
  ops::ZeroPadShortcutSpec spec_;
};

}  // namespace kestrel::nn
