#pragma once
// multihead_self_attention: torch.nn.MultiheadAttention(embed_dim D, num_heads H, dropout p,
// batch_first=True)(x, x, x, need_weights=False)[0] on x [N, T, D], d = D / H:
//   qkv = x in_proj_weight^T + in_proj_bias                 [N, T, 3D]: q, k, v in that order
//   per sample n and head h (columns h*d .. h*d+d-1 of q, k and v):
//     P = softmax(q_h k_h^T / sqrt(d)) over the keys         [T, T]
//     P' = dropout(P) in training (mask from spec.dropout, as ops::dropout), else P
//     o_h = P' v_h                                           heads [N, T, D], head h's columns
//   y = heads out_proj_weight^T + out_proj_bias               [N, T, D]
// The projections are ops::linear on [N*T, D] views, the per-head products ops::batched_matmul
// in place in qkv (no transposed copies), the softmax ops::softmax.
//
// The buffers are the caller's (the layer's saved blocks), for the N of x. The forward fills
// qkv, probs (P), heads and, with dropout, dropped (P'); backward reads those and writes its
// intermediate gradients into dheads, dqkv and dropped. Backward needs x and what this forward
// left in the buffers; it does not read y. Deterministic on each backend.
#include "engine/runtime/context.hpp"
#include "engine/tensor/tensor.hpp"
#include "kernels/common/dropout.hpp"

namespace kestrel::ops {

struct AttentionSpec {
  int64_t num_heads = 1;
  bool training = false;
  // Attention-weight dropout; only applied when training and p > 0. p must lie in [0, 1].
  kernels::DropoutSpec dropout{0.0f};
};

struct AttentionWeights {
  Tensor in_proj_weight;   // [3D, D]
  Tensor in_proj_bias;     // [3D]
  Tensor out_proj_weight;  // [D, D]
  Tensor out_proj_bias;    // [D]
};

struct AttentionBuffers {
  Tensor qkv;      // [N, T, 3D]
  Tensor probs;    // [N, H, T, T]: P, before dropout
  Tensor dropped;  // [N, H, T, T]: P' in forward, then dP' and dS in backward
  Tensor heads;    // [N, T, D]
  Tensor dheads;   // [N, T, D]
  Tensor dqkv;     // [N, T, 3D]
};

// Each non-null output is overwritten; null: not wanted (a frozen parameter, or no dx).
struct AttentionGrads {
  Tensor* dx = nullptr;
  Tensor* in_proj_weight = nullptr;
  Tensor* in_proj_bias = nullptr;
  Tensor* out_proj_weight = nullptr;
  Tensor* out_proj_bias = nullptr;
};

// The shapes of the buffers for an input [N, T, D] with H heads (in AttentionBuffers' order).
struct AttentionBufferShapes {
  Shape qkv, probs, dropped, heads, dheads, dqkv;
};
AttentionBufferShapes attention_buffer_shapes(const Shape& input, int64_t num_heads);

// y [N, T, D]. Throws kestrel::Error naming the mismatch: x not [N, T, D], D not divisible by
// the heads, a weight, bias or buffer of the wrong shape or device.
void multihead_self_attention_forward(const Context& ctx, const Tensor& x,
                                      const AttentionWeights& w, AttentionBuffers& buffers,
                                      Tensor& y, const AttentionSpec& spec);

// dy [N, T, D]: dL/dy. spec as in the forward (the dropout mask is applied again from it).
void multihead_self_attention_backward(const Context& ctx, const Tensor& x, const Tensor& dy,
                                       const AttentionWeights& w, AttentionBuffers& buffers,
                                       const AttentionGrads& grads, const AttentionSpec& spec);

}  // namespace kestrel::ops
