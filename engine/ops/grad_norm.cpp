#include "engine/ops/grad_norm.hpp"

#include <cmath>
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

double l2_norm(const Context& ctx, const Tensor& x) {
  NvtxRange range("l2_norm");
  detail::check_tensor("l2_norm", "input", x, ctx, -1);
  const int64_t n = x.numel();
#if defined(KESTREL_HAVE_CUDA)
  if (ctx.is_cuda()) {
    Tensor scratch = ctx.scratch(Shape{cuda::kReduceScratchDoubles + 1}, DType::F64);
    double* partials = scratch.data<double>();
    cuda::sum_squares_deterministic(x.data<float>(), n, partials + cuda::kReduceScratchDoubles,
                                    partials, ctx.stream());
    double sum = 0.0;
    copy_bytes(&sum, Device::cpu(), partials + cuda::kReduceScratchDoubles, ctx.device(),
               sizeof(sum));
    return std::sqrt(sum);
  }
#endif
  const float* p = x.data<float>();
  const int64_t chunks = (n + kChunk - 1) / kChunk;
  std::vector<double> partial(static_cast<size_t>(chunks), 0.0);
  cpu::parallel_for_chunks(n, kChunk, [&](int64_t begin, int64_t end) {
    double s = 0.0;
    for (int64_t i = begin; i < end; ++i) s += static_cast<double>(p[i]) * p[i];
    partial[static_cast<size_t>(begin / kChunk)] = s;
  });
  double total = 0.0;
  for (double s : partial) total += s;
  return std::sqrt(total);
}

double clip_grad_norm(const Context& ctx, Tensor& grads, double max_norm) {
  NvtxRange range("clip_grad_norm");
  KESTREL_CHECK(max_norm > 0.0 && std::isfinite(max_norm),
                "clip_grad_norm: max_norm must be positive and finite, got {}", max_norm);
  const double total = l2_norm(ctx, grads);
  const double coef = max_norm / (total + 1e-6);
  if (coef < 1.0)
    detail::launch_elementwise(
        ctx, grads.numel(), kernels::ScaleInPlace{grads.data<float>(), static_cast<float>(coef)});
  return total;
}

}  // namespace kestrel::ops
