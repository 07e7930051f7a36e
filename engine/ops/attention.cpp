#include "engine/ops/attention.hpp"

#include <cmath>

#include "engine/ops/batched_matmul.hpp"
#include "engine/ops/checks.hpp"
#include "engine/ops/dropout.hpp"
#include "engine/ops/linear.hpp"
#include "engine/ops/softmax.hpp"
#include "engine/runtime/nvtx.hpp"

namespace kestrel::ops {

namespace {

struct Dims {
  int64_t n, t, d, h, head;  // batch, tokens, embedding, heads, head width
};

Dims dims_of(std::string_view op, const Tensor& x, int64_t num_heads) {
  KESTREL_CHECK(x.ndim() == 3, "{}: input must be [N, T, D] (batch first), got {}", op,
                x.shape().str());
  KESTREL_CHECK(num_heads >= 1 && x.dim(2) % num_heads == 0,
                "{}: embedding dimension {} is not divisible by num_heads {} (input {})", op,
                x.dim(2), num_heads, x.shape().str());
  return {x.dim(0), x.dim(1), x.dim(2), num_heads, x.dim(2) / num_heads};
}

void check_weights(std::string_view op, const Context& ctx, const AttentionWeights& w,
                   const Dims& s) {
  const auto check = [&](std::string_view name, const Tensor& t, const Shape& shape) {
    detail::check_tensor(op, name, t, ctx, shape.ndim());
    detail::check_shape(op, name, t, shape);
  };
  check("in_proj_weight", w.in_proj_weight, Shape{3 * s.d, s.d});
  check("in_proj_bias", w.in_proj_bias, Shape{3 * s.d});
  check("out_proj.weight", w.out_proj_weight, Shape{s.d, s.d});
  check("out_proj.bias", w.out_proj_bias, Shape{s.d});
}

void check_buffer(std::string_view op, std::string_view name, const Context& ctx, const Tensor& t,
                  const Shape& shape) {
  detail::check_tensor(op, name, t, ctx, shape.ndim());
  detail::check_shape(op, name, t, shape);
}

bool dropout_active(const AttentionSpec& spec) {
  return spec.training && spec.dropout.p > 0.0f;
}

// Head h of sample n in a [N, T, width] tensor whose head blocks start at column `column`
// (q: 0, k: D, v: 2D in qkv; 0 in heads): rows of `width`, heads `head` columns apart.
kernels::StridedMatrices head_columns(const Dims& s, int64_t width) {
  return {width, s.t * width, s.head};
}
// P (or P', dP) of sample n and head h in [N, H, T, T].
kernels::StridedMatrices score_matrices(const Dims& s) {
  return {s.t, s.h * s.t * s.t, s.t * s.t};
}

kernels::BatchedGemm per_head(const Dims& s, int64_t m, int64_t n, int64_t k) {
  kernels::BatchedGemm g;
  g.outer = s.n, g.inner = s.h;
  g.m = m, g.n = n, g.k = k;
  return g;
}

Tensor rows_of(const Tensor& t) { return t.view(Shape{t.dim(0) * t.dim(1), t.dim(2)}); }

}  // namespace

AttentionBufferShapes attention_buffer_shapes(const Shape& input, int64_t num_heads) {
  KESTREL_CHECK(input.ndim() == 3 && num_heads >= 1,
                "attention_buffer_shapes: input must be [N, T, D], got {}", input.str());
  const int64_t n = input[0], t = input[1], d = input[2];
  return {Shape{n, t, 3 * d}, Shape{n, num_heads, t, t}, Shape{n, num_heads, t, t},
          Shape{n, t, d},     Shape{n, t, d},            Shape{n, t, 3 * d}};
}

void multihead_self_attention_forward(const Context& ctx, const Tensor& x,
                                      const AttentionWeights& w, AttentionBuffers& buffers,
                                      Tensor& y, const AttentionSpec& spec) {
  NvtxRange range("multihead_self_attention_forward");
  constexpr std::string_view op = "multihead_self_attention";
  detail::check_tensor(op, "input", x, ctx, -1);
  const Dims s = dims_of(op, x, spec.num_heads);
  check_weights(op, ctx, w, s);
  const AttentionBufferShapes shapes = attention_buffer_shapes(x.shape(), s.h);
  check_buffer(op, "qkv", ctx, buffers.qkv, shapes.qkv);
  check_buffer(op, "probs", ctx, buffers.probs, shapes.probs);
  check_buffer(op, "heads", ctx, buffers.heads, shapes.heads);
  check_buffer(op, "output", ctx, y, x.shape());
  KESTREL_CHECK(spec.dropout.p >= 0.0f && spec.dropout.p <= 1.0f,
                "{}: dropout must be in [0, 1], got {}", op, spec.dropout.p);
  const bool dropout = dropout_active(spec);
  if (dropout) check_buffer(op, "dropped", ctx, buffers.dropped, shapes.dropped);

  Tensor qkv_rows = rows_of(buffers.qkv);
  linear_forward(ctx, rows_of(x), w.in_proj_weight, &w.in_proj_bias, qkv_rows);

  const float* qkv = buffers.qkv.data<float>();
  float* probs = buffers.probs.data<float>();
  // S = q_h k_h^T / sqrt(d), written where P goes and normalised in place.
  kernels::BatchedGemm scores = per_head(s, s.t, s.t, s.head);
  scores.trans_b = true;
  scores.alpha = static_cast<float>(1.0 / std::sqrt(static_cast<double>(s.head)));
  scores.a = scores.b = head_columns(s, 3 * s.d);
  scores.c = score_matrices(s);
  batched_matmul(ctx, scores, qkv, qkv + s.d, probs);
  softmax_forward(ctx, buffers.probs, buffers.probs);

  const float* weights = probs;
  if (dropout) {
    dropout_forward(ctx, buffers.probs, buffers.dropped, spec.dropout, true);
    weights = buffers.dropped.data<float>();
  }
  // o_h = P' v_h into head h's columns of heads.
  kernels::BatchedGemm mix = per_head(s, s.t, s.head, s.t);
  mix.a = score_matrices(s);
  mix.b = head_columns(s, 3 * s.d);
  mix.c = head_columns(s, s.d);
  batched_matmul(ctx, mix, weights, qkv + 2 * s.d, buffers.heads.data<float>());

  Tensor y_rows = rows_of(y);
  linear_forward(ctx, rows_of(buffers.heads), w.out_proj_weight, &w.out_proj_bias, y_rows);
}

void multihead_self_attention_backward(const Context& ctx, const Tensor& x, const Tensor& dy,
                                       const AttentionWeights& w, AttentionBuffers& buffers,
                                       const AttentionGrads& grads, const AttentionSpec& spec) {
  NvtxRange range("multihead_self_attention_backward");
  constexpr std::string_view op = "multihead_self_attention_backward";
  detail::check_tensor(op, "input", x, ctx, -1);
  const Dims s = dims_of(op, x, spec.num_heads);
  check_weights(op, ctx, w, s);
  const AttentionBufferShapes shapes = attention_buffer_shapes(x.shape(), s.h);
  check_buffer(op, "grad_output", ctx, dy, x.shape());
  check_buffer(op, "qkv", ctx, buffers.qkv, shapes.qkv);
  check_buffer(op, "probs", ctx, buffers.probs, shapes.probs);
  check_buffer(op, "dropped", ctx, buffers.dropped, shapes.dropped);
  check_buffer(op, "heads", ctx, buffers.heads, shapes.heads);
  check_buffer(op, "dheads", ctx, buffers.dheads, shapes.dheads);
  check_buffer(op, "dqkv", ctx, buffers.dqkv, shapes.dqkv);
  const auto check_grad = [&](std::string_view name, const Tensor* g, const Shape& shape) {
    if (g != nullptr) check_buffer(op, name, ctx, *g, shape);
  };
  check_grad("grad_input", grads.dx, x.shape());
  check_grad("grad_in_proj_weight", grads.in_proj_weight, Shape{3 * s.d, s.d});
  check_grad("grad_in_proj_bias", grads.in_proj_bias, Shape{3 * s.d});
  check_grad("grad_out_proj.weight", grads.out_proj_weight, Shape{s.d, s.d});
  check_grad("grad_out_proj.bias", grads.out_proj_bias, Shape{s.d});
  const bool dropout = dropout_active(spec);

  // The output projection.
  const Tensor dy_rows = rows_of(dy);
  if (grads.out_proj_weight != nullptr)
    linear_backward_weight(ctx, rows_of(buffers.heads), dy_rows, *grads.out_proj_weight);
  if (grads.out_proj_bias != nullptr) linear_backward_bias(ctx, dy_rows, *grads.out_proj_bias);
  const bool wants_qkv =
      grads.dx != nullptr || grads.in_proj_weight != nullptr || grads.in_proj_bias != nullptr;
  if (!wants_qkv) return;
  Tensor dheads_rows = rows_of(buffers.dheads);
  linear_backward_data(ctx, dy_rows, w.out_proj_weight, dheads_rows);

  const float* qkv = buffers.qkv.data<float>();
  const float* dheads = buffers.dheads.data<float>();
  float* dqkv = buffers.dqkv.data<float>();
  float* scratch = buffers.dropped.data<float>();
  const float scale = static_cast<float>(1.0 / std::sqrt(static_cast<double>(s.head)));

  // dv_h = P'^T do_h, from the P' forward left in `dropped` (or P), before it is overwritten.
  kernels::BatchedGemm dv = per_head(s, s.t, s.head, s.t);
  dv.trans_a = true;
  dv.a = score_matrices(s);
  dv.b = head_columns(s, s.d);
  dv.c = head_columns(s, 3 * s.d);
  batched_matmul(ctx, dv, dropout ? scratch : buffers.probs.data<float>(), dheads,
                 dqkv + 2 * s.d);

  // dP' = do_h v_h^T; dP = dP' through the same mask; dS = softmax's backward, all in place.
  kernels::BatchedGemm dp = per_head(s, s.t, s.t, s.head);
  dp.trans_b = true;
  dp.a = head_columns(s, s.d);
  dp.b = head_columns(s, 3 * s.d);
  dp.c = score_matrices(s);
  batched_matmul(ctx, dp, dheads, qkv + 2 * s.d, scratch);
  if (dropout) dropout_backward(ctx, buffers.dropped, buffers.dropped, spec.dropout, true);
  softmax_backward(ctx, buffers.probs, buffers.dropped, buffers.dropped);

  // dq_h = dS k_h / sqrt(d), dk_h = dS^T q_h / sqrt(d).
  kernels::BatchedGemm dq = per_head(s, s.t, s.head, s.t);
  dq.alpha = scale;
  dq.a = score_matrices(s);
  dq.b = dq.c = head_columns(s, 3 * s.d);
  batched_matmul(ctx, dq, scratch, qkv + s.d, dqkv);
  kernels::BatchedGemm dk = dq;
  dk.trans_a = true;
  batched_matmul(ctx, dk, scratch, qkv, dqkv + s.d);

  // The input projection.
  const Tensor dqkv_rows = rows_of(buffers.dqkv);
  if (grads.in_proj_weight != nullptr)
    linear_backward_weight(ctx, rows_of(x), dqkv_rows, *grads.in_proj_weight);
  if (grads.in_proj_bias != nullptr) linear_backward_bias(ctx, dqkv_rows, *grads.in_proj_bias);
  if (grads.dx != nullptr) {
    Tensor dx_rows = rows_of(*grads.dx);
    linear_backward_data(ctx, dqkv_rows, w.in_proj_weight, dx_rows);
  }
}

}  // namespace kestrel::ops
