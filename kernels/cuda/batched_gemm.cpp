#include "kernels/cuda/batched_gemm.hpp"

#include <algorithm>

#include "kernels/common/error.hpp"
#include "kernels/cuda/library_check.hpp"

namespace kestrel::cuda {

void batched_gemm(cublasHandle_t blas, const kernels::BatchedGemm& g, const float* a,
                  const float* b, float* c, MathMode math) {
  KESTREL_CHECK(math != MathMode::BF16, "batched_gemm: bf16 operands are not supported");
  if (g.count() == 0 || g.m == 0 || g.n == 0) return;
  KESTREL_CUBLAS_CHECK(cublasSetMathMode(
      blas, math == MathMode::TF32 ? CUBLAS_TF32_TENSOR_OP_MATH : CUBLAS_PEDANTIC_MATH));
  const cublasComputeType_t compute =
      math == MathMode::TF32 ? CUBLAS_COMPUTE_32F_FAST_TF32 : CUBLAS_COMPUTE_32F;
  const auto i = [](int64_t v) { return static_cast<int>(std::max<int64_t>(v, 1)); };
  const cublasOperation_t ta = g.trans_a ? CUBLAS_OP_T : CUBLAS_OP_N;
  const cublasOperation_t tb = g.trans_b ? CUBLAS_OP_T : CUBLAS_OP_N;
  for (int64_t o = 0; o < g.outer; ++o) {
    // Column-major C^T[n, m] = op(B)^T[n, k] op(A)^T[k, m]: B first, A second.
    KESTREL_CUBLAS_CHECK(cublasGemmStridedBatchedEx(
        blas, tb, ta, i(g.n), i(g.m), i(g.k), &g.alpha, b + g.b.offset(o, 0), CUDA_R_32F,
        i(g.b.ld), g.b.inner_stride, a + g.a.offset(o, 0), CUDA_R_32F, i(g.a.ld),
        g.a.inner_stride, &g.beta, c + g.c.offset(o, 0), CUDA_R_32F, i(g.c.ld), g.c.inner_stride,
        static_cast<int>(g.inner), compute, CUBLAS_GEMM_DEFAULT));
  }
}

}  // namespace kestrel::cuda
