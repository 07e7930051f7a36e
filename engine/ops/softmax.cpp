#include "engine/ops/softmax.hpp"

#include "engine/ops/checks.hpp"
#include "engine/runtime/nvtx.hpp"
#include "kernels/cpu/softmax.hpp"

#if defined(KESTREL_HAVE_CUDA)
#include "kernels/cuda/softmax.hpp"
#endif

namespace kestrel::ops {

namespace {

// The last dimension's length (checked non-zero: a softmax over nothing is undefined).
int64_t row_length(std::string_view op, const Tensor& t) {
  KESTREL_CHECK(t.ndim() >= 1 && t.dim(t.ndim() - 1) > 0,
                "{}: the last dimension must be at least 1, got {}", op, t.shape().str());
  return t.dim(t.ndim() - 1);
}

}  // namespace

void softmax_forward(const Context& ctx, const Tensor& x, Tensor& y) {
  NvtxRange range("softmax_forward");
  detail::check_tensor("softmax", "input", x, ctx, -1);
  detail::check_tensor("softmax", "output", y, ctx, -1);
  detail::check_shape("softmax", "output", y, x.shape());
  const int64_t cols = row_length("softmax", x), rows = x.numel() / cols;
#if defined(KESTREL_HAVE_CUDA)
  if (ctx.is_cuda()) {
    cuda::softmax_rows_forward(x.data<float>(), y.data<float>(), rows, cols, ctx.stream());
    return;
  }
#endif
  cpu::softmax_rows_forward(x.data<float>(), y.data<float>(), rows, cols);
}

void softmax_backward(const Context& ctx, const Tensor& y, const Tensor& dy, Tensor& dx) {
  NvtxRange range("softmax_backward");
  detail::check_tensor("softmax_backward", "output", y, ctx, -1);
  detail::check_tensor("softmax_backward", "grad_output", dy, ctx, -1);
  detail::check_tensor("softmax_backward", "grad_input", dx, ctx, -1);
  detail::check_shape("softmax_backward", "grad_output", dy, y.shape());
  detail::check_shape("softmax_backward", "grad_input", dx, y.shape());
  const int64_t cols = row_length("softmax_backward", y), rows = y.numel() / cols;
#if defined(KESTREL_HAVE_CUDA)
  if (ctx.is_cuda()) {
    cuda::softmax_rows_backward(y.data<float>(), dy.data<float>(), dx.data<float>(), rows, cols,
                                ctx.stream());
    return;
  }
#endif
  cpu::softmax_rows_backward(y.data<float>(), dy.data<float>(), dx.data<float>(), rows, cols);
}

}  // namespace kestrel::ops
