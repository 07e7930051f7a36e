#include "engine/ops/tokens.hpp"

#include <string_view>

#include "engine/ops/checks.hpp"
#include "engine/ops/dispatch.hpp"
#include "engine/runtime/nvtx.hpp"
#include "kernels/common/tokens.hpp"

namespace kestrel::ops {

namespace {

// Checks a [N, T, D] tensor with every dimension at least 1.
void check_tokens(std::string_view op, std::string_view name, const Tensor& t, const Context& ctx) {
  detail::check_tensor(op, name, t, ctx, 3);
  KESTREL_CHECK(t.dim(0) >= 1 && t.dim(1) >= 1 && t.dim(2) >= 1,
                "{}: {} {} has an empty dimension (expected [N, tokens, features])", op, name,
                t.shape().str());
}

}  // namespace

void patch_tokens_forward(const Context& ctx, const Tensor& x, Tensor& y) {
  NvtxRange range("patch_tokens_forward");
  constexpr std::string_view op = "patch_tokens";
  detail::check_tensor(op, "input", x, ctx, 4);
  const int64_t n = x.dim(0), d = x.dim(1), t = x.dim(2) * x.dim(3);
  detail::check_tensor(op, "output", y, ctx, 3);
  detail::check_shape(op, "output", y, Shape{n, t, d});
  KESTREL_CHECK(!detail::overlap(x, y), "{}: output overlaps the input", op);
  detail::launch_elementwise(ctx, y.numel(),
                             kernels::TransposeLastTwo{x.data<float>(), y.data<float>(), d, t});
}

void patch_tokens_backward(const Context& ctx, const Tensor& dy, Tensor& dx) {
  NvtxRange range("patch_tokens_backward");
  constexpr std::string_view op = "patch_tokens_backward";
  detail::check_tensor(op, "grad_input", dx, ctx, 4);
  const int64_t n = dx.dim(0), d = dx.dim(1), t = dx.dim(2) * dx.dim(3);
  detail::check_tensor(op, "grad_output", dy, ctx, 3);
  detail::check_shape(op, "grad_output", dy, Shape{n, t, d});
  KESTREL_CHECK(!detail::overlap(dx, dy), "{}: grad_input overlaps grad_output", op);
  detail::launch_elementwise(ctx, dx.numel(),
                             kernels::TransposeLastTwo{dy.data<float>(), dx.data<float>(), t, d});
}

void class_token_forward(const Context& ctx, const Tensor& x, const Tensor& token, Tensor& y) {
  NvtxRange range("class_token_forward");
  constexpr std::string_view op = "class_token";
  check_tokens(op, "input", x, ctx);
  const int64_t n = x.dim(0), t = x.dim(1), d = x.dim(2);
  detail::check_tensor(op, "token", token, ctx, 3);
  detail::check_shape(op, "token", token, Shape{1, 1, d});
  detail::check_tensor(op, "output", y, ctx, 3);
  detail::check_shape(op, "output", y, Shape{n, t + 1, d});
  KESTREL_CHECK(!detail::overlap(x, y), "{}: output overlaps the input", op);
  detail::launch_elementwise(
      ctx, y.numel(),
      kernels::PrependToken{x.data<float>(), token.data<float>(), y.data<float>(), t, d});
}

void class_token_backward(const Context& ctx, const Tensor& dy, Tensor* dx, Tensor* dtoken) {
  NvtxRange range("class_token_backward");
  constexpr std::string_view op = "class_token_backward";
  check_tokens(op, "grad_output", dy, ctx);
  const int64_t n = dy.dim(0), t = dy.dim(1) - 1, d = dy.dim(2);
  KESTREL_CHECK(t >= 1, "{}: grad_output {} must hold the class token and at least one more", op,
                dy.shape().str());
  if (dtoken != nullptr) {
    detail::check_tensor(op, "grad_token", *dtoken, ctx, 3);
    detail::check_shape(op, "grad_token", *dtoken, Shape{1, 1, d});
    detail::launch_elementwise(
        ctx, d, kernels::SumOverBatch{dy.data<float>(), dtoken->data<float>(), n, (t + 1) * d}, n);
  }
  if (dx != nullptr) {
    detail::check_tensor(op, "grad_input", *dx, ctx, 3);
    detail::check_shape(op, "grad_input", *dx, Shape{n, t, d});
    KESTREL_CHECK(!detail::overlap(*dx, dy), "{}: grad_input overlaps grad_output", op);
    detail::launch_elementwise(ctx, dx->numel(),
                               kernels::DropFirstToken{dy.data<float>(), dx->data<float>(), t, d});
  }
}

void position_embedding_forward(const Context& ctx, const Tensor& x, const Tensor& pos, Tensor& y) {
  NvtxRange range("position_embedding_forward");
  constexpr std::string_view op = "position_embedding";
  check_tokens(op, "input", x, ctx);
  detail::check_tensor(op, "pos_embedding", pos, ctx, 3);
  detail::check_shape(op, "pos_embedding", pos, Shape{1, x.dim(1), x.dim(2)});
  detail::check_tensor(op, "output", y, ctx, 3);
  detail::check_shape(op, "output", y, x.shape());
  // In place (y is x) works element by element; a partial overlap would not.
  KESTREL_CHECK(y.raw_data() == x.raw_data() || !detail::overlap(x, y),
                "{}: output overlaps the input without being it", op);
  detail::launch_elementwise(
      ctx, y.numel(),
      kernels::AddToEverySample{x.data<float>(), pos.data<float>(), y.data<float>(), pos.numel()});
}

void position_embedding_backward(const Context& ctx, const Tensor& dy, Tensor* dx, Tensor* dpos) {
  NvtxRange range("position_embedding_backward");
  constexpr std::string_view op = "position_embedding_backward";
  check_tokens(op, "grad_output", dy, ctx);
  const int64_t n = dy.dim(0), per_sample = dy.dim(1) * dy.dim(2);
  if (dpos != nullptr) {
    detail::check_tensor(op, "grad_pos_embedding", *dpos, ctx, 3);
    detail::check_shape(op, "grad_pos_embedding", *dpos, Shape{1, dy.dim(1), dy.dim(2)});
    detail::launch_elementwise(
        ctx, per_sample,
        kernels::SumOverBatch{dy.data<float>(), dpos->data<float>(), n, per_sample}, n);
  }
  if (dx != nullptr) {
    detail::check_tensor(op, "grad_input", *dx, ctx, 3);
    detail::check_shape(op, "grad_input", *dx, dy.shape());
    if (dx->raw_data() != dy.raw_data()) dx->copy_from(dy);
  }
}

void select_token_forward(const Context& ctx, const Tensor& x, int64_t index, Tensor& y) {
  NvtxRange range("select_token_forward");
  constexpr std::string_view op = "select_token";
  check_tokens(op, "input", x, ctx);
  KESTREL_CHECK(index >= 0 && index < x.dim(1), "{}: token {} out of range for input {}", op, index,
                x.shape().str());
  detail::check_tensor(op, "output", y, ctx, 2);
  detail::check_shape(op, "output", y, Shape{x.dim(0), x.dim(2)});
  KESTREL_CHECK(!detail::overlap(x, y), "{}: output overlaps the input", op);
  detail::launch_elementwise(
      ctx, y.numel(),
      kernels::SelectTokenForward{x.data<float>(), y.data<float>(), x.dim(1), x.dim(2), index});
}

void select_token_backward(const Context& ctx, const Tensor& dy, int64_t index, Tensor& dx) {
  NvtxRange range("select_token_backward");
  constexpr std::string_view op = "select_token_backward";
  check_tokens(op, "grad_input", dx, ctx);
  KESTREL_CHECK(index >= 0 && index < dx.dim(1), "{}: token {} out of range for grad_input {}", op,
                index, dx.shape().str());
  detail::check_tensor(op, "grad_output", dy, ctx, 2);
  detail::check_shape(op, "grad_output", dy, Shape{dx.dim(0), dx.dim(2)});
  KESTREL_CHECK(!detail::overlap(dx, dy), "{}: grad_input overlaps grad_output", op);
  detail::launch_elementwise(ctx, dx.numel(),
                             kernels::SelectTokenBackward{dy.data<float>(), dx.data<float>(),
                                                          dx.dim(1), dx.dim(2), index});
}

}  // namespace kestrel::ops
