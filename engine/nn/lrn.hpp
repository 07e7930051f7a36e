#pragma once
// LocalResponseNorm: torch.nn.LocalResponseNorm(size, alpha, beta, k) across channels. Keeps
// the per-element scale k + alpha/size * sum(x^2) for the backward pass, which also reads the
// input and the output.
#include "engine/nn/layer.hpp"
#include "engine/ops/lrn.hpp"

namespace kestrel::nn {

class LocalResponseNorm : public UnaryLayer {
 public:
  // torch's defaults: alpha 1e-4, beta 0.75, k 1 (AlexNet uses k = 2).
  LocalResponseNorm(std::string name, int size, float alpha = 1e-4f, float beta = 0.75f,
                    float k = 1.0f);

  std::string_view type() const override { return "LocalResponseNorm"; }
  Shape setup(const Shape& input) override;
  std::vector<SavedSpec> saved() const override { return {{input_, DType::F32}}; }
  void bind_saved(std::span<const Tensor> saved) override { scale_ = saved[0]; }
  void forward(const Context& ctx, const Tensor& x, Tensor& y, const StepInfo& step) override;
  void backward(const Context& ctx, const Tensor& x, const Tensor& y, const Tensor& dy, Tensor* dx,
                const StepInfo& step) override;
  bool backward_needs_output() const override { return true; }

  const ops::LrnSpec& spec() const { return spec_; }

 private:
  ops::LrnSpec spec_;
  Shape input_;
  Tensor scale_;
};

}  // namespace kestrel::nn
