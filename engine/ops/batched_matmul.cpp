#include "engine/ops/batched_matmul.hpp"

#include "engine/runtime/nvtx.hpp"
#include "kernels/common/error.hpp"
#include "kernels/cpu/batched_gemm.hpp"

#if defined(KESTREL_HAVE_CUDA)
#include "engine/runtime/cuda/device_context.hpp"
#include "kernels/cuda/batched_gemm.hpp"
#endif

namespace kestrel::ops {

void batched_matmul(const Context& ctx, const kernels::BatchedGemm& g, const float* a,
                    const float* b, float* c) {
  NvtxRange range("batched_matmul");
  KESTREL_CHECK(g.outer >= 0 && g.inner >= 0 && g.m >= 0 && g.n >= 0 && g.k >= 0,
                "batched_matmul: sizes must not be negative (batch {} x {}, m {}, n {}, k {})",
                g.outer, g.inner, g.m, g.n, g.k);
  // The stored (untransposed) widths: op(A) is [m, k], op(B) [k, n], C [m, n].
  const int64_t a_cols = g.trans_a ? g.m : g.k, b_cols = g.trans_b ? g.k : g.n;
  KESTREL_CHECK(g.a.ld >= a_cols && g.b.ld >= b_cols && g.c.ld >= g.n,
                "batched_matmul: leading dimensions a {}, b {}, c {} are shorter than the rows "
                "they hold ({}, {}, {})",
                g.a.ld, g.b.ld, g.c.ld, a_cols, b_cols, g.n);
#if defined(KESTREL_HAVE_CUDA)
  if (ctx.is_cuda()) {
    cuda::batched_gemm(ctx.cuda().cublas(), g, a, b, c,
                       ctx.math().tf32 ? cuda::MathMode::TF32 : cuda::MathMode::FP32);
    return;
  }
#else
  (void)ctx;
#endif
  cpu::batched_gemm(g, a, b, c);
}

}  // namespace kestrel::ops
