#include "kernels/cuda/linear.hpp"

#include "kernels/cuda/library_check.hpp"

namespace kestrel::cuda {

namespace {

cublasComputeType_t compute_type(MathMode math) {
  return math == MathMode::TF32 ? CUBLAS_COMPUTE_32F_FAST_TF32 : CUBLAS_COMPUTE_32F;
}

// cuBLAS's classic API with the handle's math mode set for this call.
void set_math(cublasHandle_t blas, MathMode math) {
  KESTREL_CUBLAS_CHECK(cublasSetMathMode(
      blas, math == MathMode::TF32 ? CUBLAS_TF32_TENSOR_OP_MATH : CUBLAS_PEDANTIC_MATH));
}

// RAII holders so an error thrown half-way through leaks no descriptor.
struct MatmulDesc {
  cublasLtMatmulDesc_t d = nullptr;
  ~MatmulDesc() {
    if (d) cublasLtMatmulDescDestroy(d);
  }
};
struct Layout {
  cublasLtMatrixLayout_t l = nullptr;
  ~Layout() {
    if (l) cublasLtMatrixLayoutDestroy(l);
  }
};
struct Preference {
  cublasLtMatmulPreference_t p = nullptr;
  ~Preference() {
    if (p) cublasLtMatmulPreferenceDestroy(p);
  }
};

}  // namespace

void linear_forward(cublasLtHandle_t lt, cudaStream_t stream, void* workspace,
                    size_t workspace_bytes, const LinearShape& s, const float* x, const float* w,
                    const float* bias, float* y, bool fuse_relu, MathMode math) {
  if (s.n == 0 || s.out == 0) return;
  // Column-major: Y'[out, n] = W'^T[out, in] * X'[in, n], where W' = w^T (ld in), X' = x^T.
  MatmulDesc op;
  KESTREL_CUBLAS_CHECK(cublasLtMatmulDescCreate(&op.d, compute_type(math), CUDA_R_32F));
  const cublasOperation_t trans = CUBLAS_OP_T, no_trans = CUBLAS_OP_N;
  KESTREL_CUBLAS_CHECK(
      cublasLtMatmulDescSetAttribute(op.d, CUBLASLT_MATMUL_DESC_TRANSA, &trans, sizeof(trans)));
  KESTREL_CUBLAS_CHECK(cublasLtMatmulDescSetAttribute(op.d, CUBLASLT_MATMUL_DESC_TRANSB, &no_trans,
                                                      sizeof(no_trans)));
  cublasLtEpilogue_t epilogue = CUBLASLT_EPILOGUE_DEFAULT;
  if (bias)
    epilogue = fuse_relu ? CUBLASLT_EPILOGUE_RELU_BIAS : CUBLASLT_EPILOGUE_BIAS;
  else if (fuse_relu)
    epilogue = CUBLASLT_EPILOGUE_RELU;
  KESTREL_CUBLAS_CHECK(cublasLtMatmulDescSetAttribute(op.d, CUBLASLT_MATMUL_DESC_EPILOGUE,
                                                      &epilogue, sizeof(epilogue)));
  if (bias) {
    KESTREL_CUBLAS_CHECK(cublasLtMatmulDescSetAttribute(op.d, CUBLASLT_MATMUL_DESC_BIAS_POINTER,
                                                        &bias, sizeof(bias)));
  }
  const auto u = [](int64_t v) { return static_cast<uint64_t>(v); };
  Layout a, b, c;
  KESTREL_CUBLAS_CHECK(cublasLtMatrixLayoutCreate(&a.l, CUDA_R_32F, u(s.in), u(s.out), s.in));
  KESTREL_CUBLAS_CHECK(cublasLtMatrixLayoutCreate(&b.l, CUDA_R_32F, u(s.in), u(s.n), s.in));
  KESTREL_CUBLAS_CHECK(cublasLtMatrixLayoutCreate(&c.l, CUDA_R_32F, u(s.out), u(s.n), s.out));

  Preference pref;
  KESTREL_CUBLAS_CHECK(cublasLtMatmulPreferenceCreate(&pref.p));
  KESTREL_CUBLAS_CHECK(cublasLtMatmulPreferenceSetAttribute(
      pref.p, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES, &workspace_bytes, sizeof(workspace_bytes)));
  cublasLtMatmulHeuristicResult_t heuristic{};
  int found = 0;
  KESTREL_CUBLAS_CHECK(
      cublasLtMatmulAlgoGetHeuristic(lt, op.d, a.l, b.l, c.l, c.l, pref.p, 1, &heuristic, &found));
  KESTREL_CHECK(found > 0, "linear: cuBLASLt has no algorithm for [{}, {}] x [{}, {}]^T", s.n, s.in,
                s.out, s.in);
  const float one = 1.0f, zero = 0.0f;
  KESTREL_CUBLAS_CHECK(cublasLtMatmul(lt, op.d, &one, w, a.l, x, b.l, &zero, y, c.l, y, c.l,
                                      &heuristic.algo, workspace, workspace_bytes, stream));
}

void linear_backward_data(cublasHandle_t blas, const LinearShape& s, const float* dy,
                          const float* w, float* dx, MathMode math) {
  if (s.n == 0 || s.in == 0) return;
  set_math(blas, math);
  // Column-major: DX'[in, n] = W'[in, out] * DY'[out, n].
  const float one = 1.0f, zero = 0.0f;
  KESTREL_CUBLAS_CHECK(cublasSgemm(blas, CUBLAS_OP_N, CUBLAS_OP_N, static_cast<int>(s.in),
                                   static_cast<int>(s.n), static_cast<int>(s.out), &one, w,
                                   static_cast<int>(s.in), dy, static_cast<int>(s.out), &zero, dx,
                                   static_cast<int>(s.in)));
}

void linear_backward_weight(cublasHandle_t blas, const LinearShape& s, const float* x,
                            const float* dy, float* dw, MathMode math) {
  if (s.in == 0 || s.out == 0) return;
  set_math(blas, math);
  // Column-major: DW'[in, out] = X'[in, n] * DY'[out, n]^T.
  const float one = 1.0f, zero = 0.0f;
  KESTREL_CUBLAS_CHECK(cublasSgemm(blas, CUBLAS_OP_N, CUBLAS_OP_T, static_cast<int>(s.in),
                                   static_cast<int>(s.out), static_cast<int>(s.n), &one, x,
                                   static_cast<int>(s.in), dy, static_cast<int>(s.out), &zero, dw,
                                   static_cast<int>(s.in)));
}

}  // namespace kestrel::cuda
