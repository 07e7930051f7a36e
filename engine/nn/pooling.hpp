#pragma once
// Pooling layers with square windows: torch.nn.MaxPool2d, AvgPool2d and AdaptiveAvgPool2d.
#include "engine/nn/layer.hpp"
#include "engine/ops/pool2d.hpp"

namespace kestrel::nn {

struct PoolOptions {
  int stride = 0;  // 0: the kernel size (torch's default)
  int padding = 0;
  bool ceil_mode = false;
  bool count_include_pad = true;  // AvgPool2d only
};

// Keeps the argmax of every output (i32) for the backward pass.
class MaxPool2d : public UnaryLayer {
 public:
  MaxPool2d(std::string name, int kernel_size, const PoolOptions& options = {});

  std::string_view type() const override { return "MaxPool2d"; }
  Shape setup(const Shape& input) override;
  std::vector<SavedSpec> saved() const override;
  void bind_saved(std::span<const Tensor> saved) override { argmax_ = saved[0]; }
  void forward(const Context& ctx, const Tensor& x, Tensor& y, const StepInfo& step) override;
  void backward(const Context& ctx, const Tensor& x, const Tensor& y, const Tensor& dy, Tensor* dx,
                const StepInfo& step) override;
  bool backward_needs_input() const override { return false; }
  void describe(LayerSummary& row) const override;
  std::string label() const override;

  const ops::Pool2dSpec& spec() const { return spec_; }

 private:
  ops::Pool2dSpec spec_;
  Shape output_;
  Tensor argmax_;
};

class AvgPool2d : public UnaryLayer {
 public:
  AvgPool2d(std::string name, int kernel_size, const PoolOptions& options = {});

  std::string_view type() const override { return "AvgPool2d"; }
  Shape setup(const Shape& input) override;
  void forward(const Context& ctx, const Tensor& x, Tensor& y, const StepInfo& step) override;
  void backward(const Context& ctx, const Tensor& x, const Tensor& y, const Tensor& dy, Tensor* dx,
                const StepInfo& step) override;
  bool backward_needs_input() const override { return false; }
  void describe(LayerSummary& row) const override;
  std::string label() const override;

  const ops::Pool2dSpec& spec() const { return spec_; }

 private:
  ops::Pool2dSpec spec_;
};

class AdaptiveAvgPool2d : public UnaryLayer {
 public:
  AdaptiveAvgPool2d(std::string name, int output_h, int output_w);

  std::string_view type() const override { return "AdaptiveAvgPool2d"; }
  Shape setup(const Shape& input) override;
  void forward(const Context& ctx, const Tensor& x, Tensor& y, const StepInfo& step) override;
  void backward(const Context& ctx, const Tensor& x, const Tensor& y, const Tensor& dy, Tensor* dx,
                const StepInfo& step) override;
  bool backward_needs_input() const override { return false; }
  std::string label() const override;

 private:
  int output_h_, output_w_;
};

}  // namespace kestrel::nn
