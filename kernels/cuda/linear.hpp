#pragma once
// Fully connected layers on cuBLAS/cuBLASLt, in kestrel's row-major layout:
//   forward        y[n, out] = x[n, in] w[out, in]^T (+ bias[out]) (then ReLU, if asked)
//   backward data  dx[n, in] = dy[n, out] w[out, in]
//   backward weight dw[out, in] = dy[n, out]^T x[n, in]
// Row-major matrices are column-major transposes, so each product runs as its transposed
// column-major twin. Bias and ReLU ride in cuBLASLt's epilogue: no extra pass over y.
#include <cublasLt.h>
#include <cublas_v2.h>

#include <cstddef>
#include <cstdint>

namespace kestrel::cuda {

// FP32: plain f32 products; TF32: f32 operands on TF32 tensor cores; BF16: the operand
// pointers (x, w, dy) hold bf16 bits, products accumulate in f32 on the tensor cores and the
// results (y, dx, dw) and the bias are f32.
enum class MathMode { FP32, TF32, BF16 };

struct LinearShape {
  int64_t n = 0, in = 0, out = 0;
};

// The forward product on cuBLASLt with bias and ReLU in its epilogue. Returns false, having
// queued nothing, where cuBLASLt offers no algorithm: it refuses matrices with a single row or
// column (PyTorch keeps those off cuBLASLt for the same reason), so such shapes are not even
// asked. The caller then runs linear_forward_gemm with the bias and ReLU as passes of its own.
[[nodiscard]] bool linear_forward(cublasLtHandle_t lt, cudaStream_t stream, void* workspace,
                                  size_t workspace_bytes, const LinearShape& s, const void* x,
                                  const void* w, const float* bias, float* y, bool fuse_relu,
                                  MathMode math);
// y[n, out] (+)= x[n, in] w[out, in]^T on classic cuBLAS: with `accumulate`, onto the y that
// is there (the bias rows the caller wrote), as the CPU path does.
void linear_forward_gemm(cublasHandle_t blas, const LinearShape& s, const void* x, const void* w,
                         float* y, bool accumulate, MathMode math);
void linear_backward_data(cublasHandle_t blas, const LinearShape& s, const void* dy, const void* w,
                          float* dx, MathMode math);
void linear_backward_weight(cublasHandle_t blas, const LinearShape& s, const void* x,
                            const void* dy, float* dw, MathMode math);

// The workspace cuBLASLt may use for the forward product.
constexpr size_t kLinearWorkspaceBytes = size_t{32} << 20;

}  // namespace kestrel::cuda
