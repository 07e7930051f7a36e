#include "engine/ops/linear.hpp"

#include <string_view>

#include "engine/ops/bf16_operands.hpp"
#include "engine/ops/checks.hpp"
#include "engine/ops/dispatch.hpp"
#include "engine/runtime/nvtx.hpp"
#include "kernels/common/activation.hpp"
#include "kernels/common/linear.hpp"
#include "kernels/cpu/gemm.hpp"

#if defined(KESTREL_HAVE_CUDA)
#include "engine/runtime/cuda/device_context.hpp"
#include "kernels/cuda/linear.hpp"
#endif

namespace kestrel::ops {

namespace {

// "f32[3, 7]": dtype and shape, for messages that compare two tensors.
std::string describe(const Tensor& t) {
  return fmt::format("{}{}", dtype_name(t.dtype()), t.shape().str());
}

#if defined(KESTREL_HAVE_CUDA)
cuda::MathMode math_mode(const Context& ctx) {
  if (ctx.math().bf16) return cuda::MathMode::BF16;
  return ctx.math().tf32 ? cuda::MathMode::TF32 : cuda::MathMode::FP32;
}
#endif

// A product's operand as the library is to read it. f32 as it is, or under MathOptions::bf16
// packed into bf16 bits on a GPU, rounded to bf16 in f32 on the CPU (whose products then
// accumulate in f32 as the tensor cores do). `holder` keeps the copy alive for the call.
const void* operand(const Context& ctx, const Tensor& t, Tensor& holder) {
  if (!ctx.math().bf16) return t.raw_data();
  holder = ctx.is_cuda() ? detail::packed_bf16(ctx, t, {}, false) : detail::rounded_to_bf16(ctx, t);
  return holder.raw_data();
}
const float* cpu_operand(const Context& ctx, const Tensor& t, Tensor& holder) {
  return static_cast<const float*>(operand(ctx, t, holder));
}

// y[n, out] (+)= x[n, in] w[out, in]^T on the context's device, onto what y holds when
// `accumulate`: classic cuBLAS on a GPU, kestrel's GEMM on the CPU.
void accumulate_product(const Context& ctx, int64_t n, int64_t in, int64_t out, const void* x,
                        const void* w, float* y, bool accumulate) {
#if defined(KESTREL_HAVE_CUDA)
  if (ctx.is_cuda()) {
    cuda::linear_forward_gemm(ctx.cuda().cublas(), {n, in, out}, x, w, y, accumulate,
                              math_mode(ctx));
    return;
  }
#else
  (void)ctx;
#endif
  cpu::GemmArgs g;
  g.trans_b = true;  // y[N, out] = x[N, in] * (w[out, in])^T
  g.m = n, g.n = out, g.k = in;
  g.a = static_cast<const float*>(x), g.lda = in;
  g.b = static_cast<const float*>(w), g.ldb = in;
  g.beta = accumulate ? 1.0f : 0.0f;
  g.c = y, g.ldc = out;
  cpu::gemm(g);
}

// t [..., features] as the matrix [rows, features] the products take: the leading dimensions
// flattened (a view, no copy), as torch.nn.Linear treats them.
Tensor as_rows(std::string_view op, std::string_view name, const Tensor& t, const Context& ctx) {
  detail::check_tensor(op, name, t, ctx, -1);
  KESTREL_CHECK(t.ndim() >= 2, "{}: {} must have at least 2 dimensions (N, ..., features), got {}",
                op, name, t.shape().str());
  return t.flatten(0, t.ndim() - 2);
}

// `leading` with its last dimension replaced by `last`.
Shape with_last(const Shape& leading, int64_t last) {
  Shape s = leading;
  s[s.ndim() - 1] = last;
  return s;
}

bool same_leading(const Shape& a, const Shape& b) {
  if (a.ndim() != b.ndim()) return false;
  for (int d = 0; d + 1 < a.ndim(); ++d)
    if (a[d] != b[d]) return false;
  return true;
}

}  // namespace

Shape linear_output_shape(const Shape& input, const Shape& weight) {
  KESTREL_CHECK(input.ndim() >= 2 && weight.ndim() == 2,
                "linear: input {} must have at least 2 dimensions and weight {} exactly 2",
                input.str(), weight.str());
  KESTREL_CHECK(input.dim(-1) == weight[1],
                "linear: input has {} features but weight expects {} (input {}, weight {})",
                input.dim(-1), weight[1], input.str(), weight.str());
  return with_last(input, weight[0]);
}

void linear_forward(const Context& ctx, const Tensor& x, const Tensor& w, const Tensor* bias,
                    Tensor& y, bool relu) {
  NvtxRange range("linear_forward");
  const Tensor x2 = as_rows("linear", "input", x, ctx);
  detail::check_tensor("linear", "weight", w, ctx, 2);
  KESTREL_CHECK(x.dim(-1) == w.dim(1),
                "linear: input has {} features but weight expects {} (input {}, weight {})",
                x.dim(-1), w.dim(1), describe(x), describe(w));
  const int64_t n = x2.dim(0), in = x2.dim(1), out = w.dim(0);
  if (bias != nullptr) {
    detail::check_tensor("linear", "bias", *bias, ctx, 1);
    detail::check_shape("linear", "bias", *bias, Shape{out});
  }
  detail::check_tensor("linear", "output", y, ctx, x.ndim());
  detail::check_shape("linear", "output", y, with_last(x.shape(), out));

  Tensor x_holder, w_holder;
  const void* xs = operand(ctx, x2, x_holder);
  const void* ws = operand(ctx, w, w_holder);
  const float* b = bias != nullptr ? bias->data<float>() : nullptr;
  float* ys = y.data<float>();
#if defined(KESTREL_HAVE_CUDA)
  // cuBLASLt adds the bias and applies the ReLU in the product's epilogue; the shapes it has no
  // algorithm for take the passes below, as the CPU does.
  if (ctx.is_cuda()) {
    auto& dc = ctx.cuda();
    if (cuda::linear_forward(dc.cublaslt(), ctx.stream(), dc.workspace(cuda::kLinearWorkspaceBytes),
                             cuda::kLinearWorkspaceBytes, {n, in, out}, xs, ws, b, ys, relu,
                             math_mode(ctx)))
      return;
  }
#endif
  // With a bias, y starts as bias rows and the product accumulates onto it (beta = 1).
  if (b != nullptr)
    detail::launch_elementwise(ctx, y.numel(), kernels::BroadcastBiasRows{b, ys, out});
  accumulate_product(ctx, n, in, out, xs, ws, ys, b != nullptr);
  if (relu) detail::launch_elementwise(ctx, y.numel(), kernels::ReluForward{ys, ys});
}

void linear_backward_data(const Context& ctx, const Tensor& dy, const Tensor& w, Tensor& dx) {
  NvtxRange range("linear_backward_data");
  const Tensor dy2 = as_rows("linear_backward_data", "grad_output", dy, ctx);
  detail::check_tensor("linear_backward_data", "weight", w, ctx, 2);
  KESTREL_CHECK(dy.dim(-1) == w.dim(0),
                "linear_backward_data: grad_output has {} features but weight has {} outputs "
                "(grad_output {}, weight {})",
                dy.dim(-1), w.dim(0), describe(dy), describe(w));
  const int64_t n = dy2.dim(0), out = w.dim(0), in = w.dim(1);
  detail::check_tensor("linear_backward_data", "grad_input", dx, ctx, dy.ndim());
  detail::check_shape("linear_backward_data", "grad_input", dx, with_last(dy.shape(), in));
  Tensor dy_holder, w_holder;
#if defined(KESTREL_HAVE_CUDA)
  if (ctx.is_cuda()) {
    cuda::linear_backward_data(ctx.cuda().cublas(), {n, in, out}, operand(ctx, dy2, dy_holder),
                               operand(ctx, w, w_holder), dx.data<float>(), math_mode(ctx));
    return;
  }
#endif

  cpu::GemmArgs g;  // dx[N, in] = dy[N, out] * w[out, in]
  g.m = n, g.n = in, g.k = out;
  g.a = cpu_operand(ctx, dy2, dy_holder), g.lda = out;
  g.b = cpu_operand(ctx, w, w_holder), g.ldb = in;
  g.c = dx.data<float>(), g.ldc = in;
  cpu::gemm(g);
}

void linear_backward_weight(const Context& ctx, const Tensor& x, const Tensor& dy, Tensor& dw) {
  NvtxRange range("linear_backward_weight");
  const Tensor x2 = as_rows("linear_backward_weight", "input", x, ctx);
  const Tensor dy2 = as_rows("linear_backward_weight", "grad_output", dy, ctx);
  KESTREL_CHECK(x2.dim(0) == dy2.dim(0),
                "linear_backward_weight: input has {} rows but grad_output has {} (input {}, "
                "grad_output {})",
                x2.dim(0), dy2.dim(0), describe(x), describe(dy));
  KESTREL_CHECK(same_leading(x.shape(), dy.shape()),
                "linear_backward_weight: input and grad_output differ before their last "
                "dimension (input {}, grad_output {})",
                describe(x), describe(dy));
  const int64_t n = x2.dim(0), in = x2.dim(1), out = dy2.dim(1);
  detail::check_tensor("linear_backward_weight", "grad_weight", dw, ctx, 2);
  detail::check_shape("linear_backward_weight", "grad_weight", dw, Shape{out, in});
  Tensor x_holder, dy_holder;
#if defined(KESTREL_HAVE_CUDA)
  if (ctx.is_cuda()) {
    cuda::linear_backward_weight(ctx.cuda().cublas(), {n, in, out}, operand(ctx, x2, x_holder),
                                 operand(ctx, dy2, dy_holder), dw.data<float>(), math_mode(ctx));
    return;
  }
#endif

  cpu::GemmArgs g;  // dw[out, in] = (dy[N, out])^T * x[N, in]
  g.trans_a = true;
  g.m = out, g.n = in, g.k = n;
  g.a = cpu_operand(ctx, dy2, dy_holder), g.lda = out;
  g.b = cpu_operand(ctx, x2, x_holder), g.ldb = in;
  g.c = dw.data<float>(), g.ldc = in;
  cpu::gemm(g);
}

void linear_backward_bias(const Context& ctx, const Tensor& dy, Tensor& db) {
  NvtxRange range("linear_backward_bias");
  const Tensor dy2 = as_rows("linear_backward_bias", "grad_output", dy, ctx);
  detail::check_tensor("linear_backward_bias", "grad_bias", db, ctx, 1);
  detail::check_shape("linear_backward_bias", "grad_bias", db, Shape{dy2.dim(1)});
  detail::launch_elementwise(
      ctx, db.numel(),
      kernels::ColumnSums{dy2.data<float>(), db.data<float>(), dy2.dim(0), dy2.dim(1)}, dy2.dim(0));
}

}  // namespace kestrel::ops
