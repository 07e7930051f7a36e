#pragma once
// kernels::BatchedGemm on cuBLAS: one cublasGemmStridedBatchedEx per outer index over the inner
// batch (strided batches need one stride; attention's (sample, head) pairs have two). Row-major
// C = op(A) op(B) runs as its column-major transpose C^T = op(B)^T op(A)^T. f32 operands and
// results; FP32 runs pedantic (no tensor cores, the CPU's arithmetic), TF32 on tensor cores.
#include <cublas_v2.h>

#include "kernels/common/batched_gemm.hpp"
#include "kernels/cuda/linear.hpp"

namespace kestrel::cuda {

// Queued on the handle's stream; pointers are device memory. BF16 is refused (throws).
void batched_gemm(cublasHandle_t blas, const kernels::BatchedGemm& g, const float* a,
                  const float* b, float* c, MathMode math);

}  // namespace kestrel::cuda
