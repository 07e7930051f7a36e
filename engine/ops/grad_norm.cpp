#include "engine/ops/grad_norm.hpp"

#include <cmath>
#include <string_view>
#include <vector>

#include "engine/ops/checks.hpp"
#include "engine/ops/dispatch.hpp"
#include "engine/runtime/nvtx.hpp"
#include "engine/tensor/copy.hpp"
#include "kernels/common/scale.hpp"
#include "kernels/cpu/parallel.hpp"

#if defined(KESTREL_HAVE_CUDA)
#include "kernels/cuda/reduce.hpp"
#endif

namespace kestrel::ops {

namespace {
// Chunk of the CPU sum: partial sums per fixed chunk, then added in chunk order.
constexpr int64_t kChunk = 1 << 14;
}  // namespace

namespace {

// Sum of x[i]^2 into *out, memory of ctx's device: a fixed two-pass tree on a GPU; on the CPU
// partial sums of fixed chunks in double, added in chunk order (the same bits at any thread
// count). `scratch` holds the GPU's partials.
void sum_squares_of(const Context& ctx, const float* p, int64_t n, double* out, Tensor& scratch) {
#if defined(KESTREL_HAVE_CUDA)
  if (ctx.is_cuda()) {
    scratch = ctx.scratch(Shape{cuda::kReduceScratchDoubles}, DType::F64);
    cuda::sum_squares_deterministic(p, n, out, scratch.data<double>(), ctx.stream());
    return;
  }
#endif
  (void)ctx;
  (void)scratch;
  const int64_t chunks = (n + kChunk - 1) / kChunk;
  std::vector<double> partial(static_cast<size_t>(chunks), 0.0);
  cpu::parallel_for_chunks(n, kChunk, [&](int64_t begin, int64_t end) {
    double s = 0.0;
    for (int64_t i = begin; i < end; ++i) s += static_cast<double>(p[i]) * p[i];
    partial[static_cast<size_t>(begin / kChunk)] = s;
  });
  double total = 0.0;
  for (double s : partial) total += s;
  *out = total;
}

void sum_squares(const Context& ctx, const Tensor& x, double* out, Tensor& scratch) {
  sum_squares_of(ctx, x.data<float>(), x.numel(), out, scratch);
}

void check_max_norm(std::string_view op, double max_norm) {
  KESTREL_CHECK(max_norm > 0.0 && std::isfinite(max_norm),
                "{}: max_norm must be positive and finite, got {}", op, max_norm);
}

}  // namespace

void sum_squares(const Context& ctx, const float* x, int64_t n, double* out) {
  KESTREL_CHECK(n >= 0, "sum_squares: negative element count {}", n);
  Tensor scratch;
  sum_squares_of(ctx, x, n, out, scratch);
}

double l2_norm(const Context& ctx, const Tensor& x) {
  NvtxRange range("l2_norm");
  detail::check_tensor("l2_norm", "input", x, ctx, -1);
  Tensor sum = ctx.scratch(Shape{1}, DType::F64), scratch;
  sum_squares(ctx, x, sum.data<double>(), scratch);
  double host = 0.0;
  copy_bytes(&host, Device::cpu(), sum.raw_data(), ctx.device(), sizeof(host));
  return std::sqrt(host);
}

void clip_grad_norm_on_device(const Context& ctx, Tensor& grads, double max_norm) {
  NvtxRange range("clip_grad_norm_on_device");
  check_max_norm("clip_grad_norm_on_device", max_norm);
  detail::check_tensor("clip_grad_norm_on_device", "gradients", grads, ctx, -1);
  Tensor sum = ctx.scratch(Shape{1}, DType::F64), scratch;
  sum_squares(ctx, grads, sum.data<double>(), scratch);
  detail::launch_elementwise(
      ctx, grads.numel(), kernels::ClipByNorm{grads.data<float>(), sum.data<double>(), max_norm});
}

double clip_grad_norm(const Context& ctx, Tensor& grads, double max_norm) {
  NvtxRange range("clip_grad_norm");
  check_max_norm("clip_grad_norm", max_norm);
  const double total = l2_norm(ctx, grads);
  const double coef = max_norm / (total + 1e-6);
  if (coef < 1.0)
    detail::launch_elementwise(
        ctx, grads.numel(), kernels::ScaleInPlace{grads.data<float>(), static_cast<float>(coef)});
  return total;
}

}  // namespace kestrel::ops
