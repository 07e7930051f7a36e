#include "engine/nn/multihead_attention.hpp"

#include <fmt/format.h>

#include "engine/nn/summary.hpp"
#include "kernels/common/error.hpp"

namespace kestrel::nn {

MultiheadAttention::MultiheadAttention(std::string name, int64_t embed_dim, int64_t num_heads,
                                       float dropout)
    : UnaryLayer(std::move(name)),
      embed_dim_(embed_dim),
      num_heads_(num_heads),
      dropout_(dropout) {
  KESTREL_CHECK(embed_dim >= 1 && num_heads >= 1,
                "MultiheadAttention '{}': embed_dim {} and num_heads {} must be positive",
                this->name(), embed_dim, num_heads);
  KESTREL_CHECK(embed_dim % num_heads == 0,
                "MultiheadAttention '{}': embed_dim {} must be divisible by num_heads {}",
                this->name(), embed_dim, num_heads);
  KESTREL_CHECK(dropout >= 0.0f && dropout < 1.0f,
                "MultiheadAttention '{}': dropout must be in [0, 1), got {}", this->name(),
                dropout);
}

Shape MultiheadAttention::setup(const Shape& input) {
  KESTREL_CHECK(input.ndim() == 3,
                "MultiheadAttention '{}': input must be [N, T, D] (batch first), got {}", name(),
                input.str());
  KESTREL_CHECK(input[2] == embed_dim_,
                "MultiheadAttention '{}': input {} has embedding dimension {}, embed_dim is {}",
                name(), input.str(), input[2], embed_dim_);
  KESTREL_CHECK(input[1] >= 1, "MultiheadAttention '{}': input {} has no tokens", name(),
                input.str());
  input_ = input;
  return input;
}

std::vector<ParamSpec> MultiheadAttention::params() const {
  const int64_t d = embed_dim_;
  return {{"in_proj_weight", Shape{3 * d, d}, ParamKind::Weight, ParamInit::XavierUniform},
          {"in_proj_bias", Shape{3 * d}, ParamKind::Bias, ParamInit::Zeros},
          {"out_proj.weight", Shape{d, d}, ParamKind::Weight, ParamInit::LinearDefault},
          {"out_proj.bias", Shape{d}, ParamKind::Bias, ParamInit::Zeros}};
}

void MultiheadAttention::bind_params(std::span<const Tensor> params,
                                     std::span<const Tensor> grads) {
  weights_ = {params[0], params[1], params[2], params[3]};
  grads_ = {grads[0], grads[1], grads[2], grads[3]};
}

std::vector<SavedSpec> MultiheadAttention::saved() const {
  const ops::AttentionBufferShapes s = ops::attention_buffer_shapes(input_, num_heads_);
  // `dropped` carries P' from forward to backward with dropout; without, it is backward's dP
  // and dS alone, like dheads and dqkv.
  const bool p_prime = dropout_ > 0.0f;
  return {{s.qkv, DType::F32},          {s.probs, DType::F32},
          {s.dropped, DType::F32, !p_prime}, {s.heads, DType::F32},
          {s.dheads, DType::F32, true},      {s.dqkv, DType::F32, true}};
}

void MultiheadAttention::bind_saved(std::span<const Tensor> saved) {
  saved_ = {saved[0], saved[1], saved[2], saved[3], saved[4], saved[5]};
}

ops::AttentionBuffers MultiheadAttention::buffers(int64_t n) const {
  return {saved_.qkv.slice(0, n),   saved_.probs.slice(0, n),  saved_.dropped.slice(0, n),
          saved_.heads.slice(0, n), saved_.dheads.slice(0, n), saved_.dqkv.slice(0, n)};
}

ops::AttentionSpec MultiheadAttention::spec(const StepInfo& step) const {
  ops::AttentionSpec spec;
  spec.num_heads = num_heads_;
  spec.training = step.training;
  spec.dropout = {dropout_, step.seed, kernels::dropout_stream(step.step, index())};
  spec.dropout.step_on_device = step.step_on_device;
  spec.dropout.layer = index();
  return spec;
}

void MultiheadAttention::forward(const Context& ctx, const Tensor& x, Tensor& y,
                                 const StepInfo& step) {
  ops::AttentionBuffers b = buffers(x.dim(0));
  ops::multihead_self_attention_forward(ctx, x, weights_, b, y, spec(step));
}

void MultiheadAttention::backward(const Context& ctx, const Tensor& x, const Tensor& y,
                                  const Tensor& dy, Tensor* dx, const StepInfo& step) {
  (void)y;
  ops::AttentionBuffers b = buffers(x.dim(0));
  // A frozen parameter has no gradient view.
  const auto wanted = [](Tensor& g) { return g.defined() ? &g : nullptr; };
  const ops::AttentionGrads grads{dx, wanted(grads_.in_proj_weight), wanted(grads_.in_proj_bias),
                                  wanted(grads_.out_proj_weight), wanted(grads_.out_proj_bias)};
  ops::multihead_self_attention_backward(ctx, x, dy, weights_, b, grads, spec(step));
}

int64_t MultiheadAttention::multiply_adds(const Shape& input) const {
  const int64_t rows = input[0] * input[1], d = embed_dim_;
  // The projections (3D + D outputs per token) and q k^T and P v (T * T * D per sample each).
  return rows * d * 4 * d + 2 * input[0] * input[1] * input[1] * d;
}

void MultiheadAttention::describe(LayerSummary& row) const { row.dropout = dropout_; }

std::string MultiheadAttention::label() const {
  return fmt::format("MultiheadAttention {} heads", num_heads_);
}

}  // namespace kestrel::nn
