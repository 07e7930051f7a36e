#pragma once
// MultiheadAttention: torch.nn.MultiheadAttention(embed_dim, num_heads, dropout,
// batch_first=True) used as self-attention, y = attn(x, x, x, need_weights=False)[0] on
// x [N, T, D] (ops/attention.hpp has the arithmetic). Parameters under torch's state_dict
// names and shapes: in_proj_weight [3D, D], in_proj_bias [3D], out_proj.weight [D, D],
// out_proj.bias [D]; they start as torch's _reset_parameters leaves them, whatever the graph's
// scheme: in_proj_weight xavier_uniform_, out_proj.weight nn.Linear's default
// (kaiming_uniform_, a = sqrt(5)), both biases 0. Attention-weight dropout draws its mask from
// (seed, step, layer index) as nn::Dropout does. Forward saves qkv, the attention weights (and
// the dropped ones, with dropout) and the concatenated heads; backward's intermediate gradients
// are saved blocks marked backward_only, live during this layer's backward alone. Backward
// reads x, not y.
#include "engine/nn/layer.hpp"
#include "engine/ops/attention.hpp"

namespace kestrel::nn {

class MultiheadAttention : public UnaryLayer {
 public:
  // embed_dim D must be divisible by num_heads; dropout in [0, 1).
  MultiheadAttention(std::string name, int64_t embed_dim, int64_t num_heads,
                     float dropout = 0.0f);

  std::string_view type() const override { return "MultiheadAttention"; }
  Shape setup(const Shape& input) override;
  std::vector<ParamSpec> params() const override;
  void bind_params(std::span<const Tensor> params, std::span<const Tensor> grads) override;
  std::vector<SavedSpec> saved() const override;
  void bind_saved(std::span<const Tensor> saved) override;
  void forward(const Context& ctx, const Tensor& x, Tensor& y, const StepInfo& step) override;
  void backward(const Context& ctx, const Tensor& x, const Tensor& y, const Tensor& dy, Tensor* dx,
                const StepInfo& step) override;
  int64_t multiply_adds(const Shape& input) const override;
  bool backward_needs_input() const override { return true; }
  bool backward_needs_output() const override { return false; }
  void describe(LayerSummary& row) const override;
  std::string label() const override;

  int64_t embed_dim() const { return embed_dim_; }
  int64_t num_heads() const { return num_heads_; }
  float dropout() const { return dropout_; }
  // The op's spec for a step of this layer.
  ops::AttentionSpec spec(const StepInfo& step) const;

 private:
  // The buffers' leading rows for a batch of n.
  ops::AttentionBuffers buffers(int64_t n) const;

  int64_t embed_dim_, num_heads_;
  float dropout_;
  Shape input_;  // as set up (the largest batch)
  ops::AttentionWeights weights_, grads_;
  ops::AttentionBuffers saved_;
};

}  // namespace kestrel::nn
