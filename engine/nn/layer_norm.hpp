#pragma once
// LayerNorm: torch.nn.LayerNorm(normalized_shape=D, eps) over the last dimension of
// [N, ..., D] (a ViT's [N, tokens, D]). Parameters weight (starts at 1) and bias (at 0), under
// PyTorch's names, whatever the initialisation scheme. Forward keeps each row's mean and
// 1 / sqrt(var + eps) (one row per sample first, so a smaller batch takes the leading rows);
// backward reads those and the input, never the output.
#include "engine/nn/layer.hpp"

namespace kestrel::nn {

class LayerNorm : public UnaryLayer {
 public:
  LayerNorm(std::string name, int64_t normalized_shape, double eps = 1e-5);

  std::string_view type() const override { return "LayerNorm"; }
  Shape setup(const Shape& input) override;
  std::vector<ParamSpec> params() const override;
  void bind_params(std::span<const Tensor> params, std::span<const Tensor> grads) override;
  std::vector<SavedSpec> saved() const override;
  void bind_saved(std::span<const Tensor> saved) override;
  void forward(const Context& ctx, const Tensor& x, Tensor& y, const StepInfo& step) override;
  void backward(const Context& ctx, const Tensor& x, const Tensor& y, const Tensor& dy, Tensor* dx,
                const StepInfo& step) override;
  bool backward_needs_input() const override { return true; }
  bool backward_needs_output() const override { return false; }

  int64_t normalized_shape() const { return features_; }
  double eps() const { return eps_; }

 private:
  int64_t features_;
  double eps_;
  Shape input_;  // of setup (the planned batch)
  Tensor weight_, bias_, dweight_, dbias_;
  Tensor save_mean_, save_rstd_;
};

}  // namespace kestrel::nn
