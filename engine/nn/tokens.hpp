#pragma once
// A Vision Transformer's token layers, the pieces of torchvision.models.VisionTransformer that
// are not modules of their own, under the names its state_dict uses:
//   PatchTokens        conv_proj's [N, D, h, w] -> tokens [N, h * w, D] (_process_input's
//                      reshape and permute);
//   ClassToken         prepends the parameter `class_token` [1, 1, D] (zeros at start) to every
//                      sample: [N, T, D] -> [N, T + 1, D]. torchvision keeps it on the model
//                      itself, so its name has no layer prefix (param_scope "");
//   PositionEmbedding  adds `<layer>.pos_embedding` [1, T, D] (N(0, 0.02^2) at start) to every
//                      sample; torchvision's Encoder owns it, so the layer is named "encoder";
//   SelectToken        x[:, index] -> [N, D] (forward's x[:, 0], the class token).
#include "engine/nn/layer.hpp"

namespace kestrel::nn {

class PatchTokens : public UnaryLayer {
 public:
  using UnaryLayer::UnaryLayer;
  std::string_view type() const override { return "PatchTokens"; }
  Shape setup(const Shape& input) override;
  void forward(const Context& ctx, const Tensor& x, Tensor& y, const StepInfo& step) override;
  void backward(const Context& ctx, const Tensor& x, const Tensor& y, const Tensor& dy, Tensor* dx,
                const StepInfo& step) override;
  bool backward_needs_input() const override { return false; }
};

class ClassToken : public UnaryLayer {
 public:
  ClassToken(std::string name, int64_t hidden_dim);
  std::string_view type() const override { return "ClassToken"; }
  std::string_view param_scope() const override { return {}; }
  Shape setup(const Shape& input) override;
  std::vector<ParamSpec> params() const override;
  void bind_params(std::span<const Tensor> params, std::span<const Tensor> grads) override;
  void forward(const Context& ctx, const Tensor& x, Tensor& y, const StepInfo& step) override;
  void backward(const Context& ctx, const Tensor& x, const Tensor& y, const Tensor& dy, Tensor* dx,
                const StepInfo& step) override;
  bool backward_needs_input() const override { return false; }

 private:
  int64_t hidden_;
  Tensor token_, dtoken_;
};

class PositionEmbedding : public UnaryLayer {
 public:
  // seq_length: tokens per sample, the class token included (torchvision's seq_length + 1).
  PositionEmbedding(std::string name, int64_t seq_length, int64_t hidden_dim, float std = 0.02f);
  std::string_view type() const override { return "PositionEmbedding"; }
  Shape setup(const Shape& input) override;
  std::vector<ParamSpec> params() const override;
  void bind_params(std::span<const Tensor> params, std::span<const Tensor> grads) override;
  void forward(const Context& ctx, const Tensor& x, Tensor& y, const StepInfo& step) override;
  void backward(const Context& ctx, const Tensor& x, const Tensor& y, const Tensor& dy, Tensor* dx,
                const StepInfo& step) override;
  Aliasing aliasing() const override { return Aliasing::InPlace; }
  bool backward_needs_input() const override { return false; }

 private:
  int64_t tokens_, hidden_;
  float std_;
  Tensor pos_, dpos_;
};

class SelectToken : public UnaryLayer {
 public:
  explicit SelectToken(std::string name, int64_t index = 0);
  std::string_view type() const override { return "SelectToken"; }
  Shape setup(const Shape& input) override;
  void forward(const Context& ctx, const Tensor& x, Tensor& y, const StepInfo& step) override;
  void backward(const Context& ctx, const Tensor& x, const Tensor& y, const Tensor& dy, Tensor* dx,
                const StepInfo& step) override;
  bool backward_needs_input() const override { return false; }

 private:
  int64_t index_;
};

}  // namespace kestrel::nn
