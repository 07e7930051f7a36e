#include "kernels/cuda/linear.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cstdint>
#include <memory>
#include <utility>

#include "kernels/common/fallback.hpp"
#include "kernels/cuda/library_check.hpp"
#include "kernels/cuda/shape_cache.hpp"

namespace kestrel::cuda {

namespace {

cublasComputeType_t compute_type(MathMode math) {
  return math == MathMode::TF32 ? CUBLAS_COMPUTE_32F_FAST_TF32 : CUBLAS_COMPUTE_32F;
}

// The element type of the operands (A and B); results are always f32.
cudaDataType_t operand_type(MathMode math) {
  return math == MathMode::BF16 ? CUDA_R_16BF : CUDA_R_32F;
}

// cuBLAS's classic API with the handle's math mode set for this call: FP32 pedantic (no
// tensor cores, the CPU oracle's arithmetic), TF32 tensor cores, or for bf16 operands the
// default mode, which lets GemmEx use the bf16 tensor cores.
void set_math(cublasHandle_t blas, MathMode math) {
  const cublasMath_t mode = math == MathMode::TF32   ? CUBLAS_TF32_TENSOR_OP_MATH
                            : math == MathMode::BF16 ? CUBLAS_DEFAULT_MATH
                                                     : CUBLAS_PEDANTIC_MATH;
  KESTREL_CUBLAS_CHECK(cublasSetMathMode(blas, mode));
}

// C[m, n] = op(A) op(B) (+ beta C), column-major, f32 C; A and B f32 or bf16 as `math` says.
void gemm(cublasHandle_t blas, cublasOperation_t trans_a, cublasOperation_t trans_b, int64_t m,
          int64_t n, int64_t k, const void* a, int64_t lda, const void* b, int64_t ldb, float* c,
          int64_t ldc, MathMode math, float beta = 0.0f) {
  set_math(blas, math);
  const float one = 1.0f;
  // BLAS wants every leading dimension >= 1, even for an empty matrix.
  const auto i = [](int64_t v) { return static_cast<int>(v); };
  lda = std::max<int64_t>(lda, 1), ldb = std::max<int64_t>(ldb, 1), ldc = std::max<int64_t>(ldc, 1);
  if (math != MathMode::BF16) {
    KESTREL_CUBLAS_CHECK(cublasSgemm(blas, trans_a, trans_b, i(m), i(n), i(k), &one,
                                     static_cast<const float*>(a), i(lda),
                                     static_cast<const float*>(b), i(ldb), &beta, c, i(ldc)));
    return;
  }
  KESTREL_CUBLAS_CHECK(cublasGemmEx(blas, trans_a, trans_b, i(m), i(n), i(k), &one, a, CUDA_R_16BF,
                                    i(lda), b, CUDA_R_16BF, i(ldb), &beta, c, CUDA_R_32F, i(ldc),
                                    CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT));
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

// The largest power of two (up to 256) that divides a pointer's address.
uint32_t alignment_of(const void* p) {
  const auto a = reinterpret_cast<uintptr_t>(p);
  return static_cast<uint32_t>(std::min<uintptr_t>(256, a & (~a + 1)));
}

// Everything the forward product on cuBLASLt needs but the pointers: the matmul descriptor
// (epilogue included), the three layouts and the algorithm the heuristic chose, or that it
// offered none. Built on a shape's first call, then reused (ShapeCache).
struct LtPlan {
  MatmulDesc op;
  Layout a, b, c;
  bool supported = false;
  cublasLtMatmulHeuristicResult_t heuristic{};
};

std::unique_ptr<LtPlan> make_plan(cublasLtHandle_t lt, size_t workspace_bytes, const LinearShape& s,
                                  const float* bias, bool fuse_relu, MathMode math,
                                  const uint32_t (&alignment)[3]) {
  auto plan = std::make_unique<LtPlan>();
  // Column-major: Y'[out, n] = W'^T[out, in] * X'[in, n], where W' = w^T (ld in), X' = x^T.
  KESTREL_CUBLAS_CHECK(cublasLtMatmulDescCreate(&plan->op.d, compute_type(math), CUDA_R_32F));
  const cublasOperation_t trans = CUBLAS_OP_T, no_trans = CUBLAS_OP_N;
  KESTREL_CUBLAS_CHECK(cublasLtMatmulDescSetAttribute(plan->op.d, CUBLASLT_MATMUL_DESC_TRANSA,
                                                      &trans, sizeof(trans)));
  KESTREL_CUBLAS_CHECK(cublasLtMatmulDescSetAttribute(plan->op.d, CUBLASLT_MATMUL_DESC_TRANSB,
                                                      &no_trans, sizeof(no_trans)));
  cublasLtEpilogue_t epilogue = CUBLASLT_EPILOGUE_DEFAULT;
  if (bias)
    epilogue = fuse_relu ? CUBLASLT_EPILOGUE_RELU_BIAS : CUBLASLT_EPILOGUE_BIAS;
  else if (fuse_relu)
    epilogue = CUBLASLT_EPILOGUE_RELU;
  KESTREL_CUBLAS_CHECK(cublasLtMatmulDescSetAttribute(plan->op.d, CUBLASLT_MATMUL_DESC_EPILOGUE,
                                                      &epilogue, sizeof(epilogue)));
  // The first call's bias, so the heuristic sees a complete problem; each call sets its own.
  if (bias) {
    KESTREL_CUBLAS_CHECK(cublasLtMatmulDescSetAttribute(
        plan->op.d, CUBLASLT_MATMUL_DESC_BIAS_POINTER, &bias, sizeof(bias)));
  }
  const auto u = [](int64_t v) { return static_cast<uint64_t>(v); };
  const cudaDataType_t operands = operand_type(math);
  KESTREL_CUBLAS_CHECK(cublasLtMatrixLayoutCreate(&plan->a.l, operands, u(s.in), u(s.out), s.in));
  KESTREL_CUBLAS_CHECK(cublasLtMatrixLayoutCreate(&plan->b.l, operands, u(s.in), u(s.n), s.in));
  KESTREL_CUBLAS_CHECK(cublasLtMatrixLayoutCreate(&plan->c.l, CUDA_R_32F, u(s.out), u(s.n), s.out));

  Preference pref;
  KESTREL_CUBLAS_CHECK(cublasLtMatmulPreferenceCreate(&pref.p));
  KESTREL_CUBLAS_CHECK(cublasLtMatmulPreferenceSetAttribute(
      pref.p, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES, &workspace_bytes, sizeof(workspace_bytes)));
  // cuBLASLt assumes 256-byte aligned operands unless told: say what these pointers have
  // (w, x, and y for C and D).
  const std::pair<cublasLtMatmulPreferenceAttributes_t, uint32_t> alignments[] = {
      {CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_A_BYTES, alignment[0]},
      {CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_B_BYTES, alignment[1]},
      {CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_C_BYTES, alignment[2]},
      {CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_D_BYTES, alignment[2]}};
  for (const auto& [attribute, bytes] : alignments) {
    KESTREL_CUBLAS_CHECK(
        cublasLtMatmulPreferenceSetAttribute(pref.p, attribute, &bytes, sizeof(bytes)));
  }
  int found = 0;
  const cublasStatus_t status =
      cublasLtMatmulAlgoGetHeuristic(lt, plan->op.d, plan->a.l, plan->b.l, plan->c.l, plan->c.l,
                                     pref.p, 1, &plan->heuristic, &found);
  if (status == CUBLAS_STATUS_NOT_SUPPORTED || status == CUBLAS_STATUS_INVALID_VALUE ||
      (status == CUBLAS_STATUS_SUCCESS &&
       (found == 0 || plan->heuristic.state != CUBLAS_STATUS_SUCCESS)))
    return plan;  // not supported: the caller takes the classic path, now and later
  KESTREL_CUBLAS_CHECK(status);
  plan->supported = true;
  return plan;
}

}  // namespace

bool linear_forward(cublasLtHandle_t lt, cudaStream_t stream, void* workspace,
                    size_t workspace_bytes, const LinearShape& s, const void* x, const void* w,
                    const float* bias, float* y, bool fuse_relu, MathMode math) {
  if (s.n == 0 || s.out == 0) return true;
  if (s.n == 1 || s.in <= 1 || s.out == 1) return false;
  // cuBLASLt is the fast path: a call it fails (an epilogue this library or GPU refuses at run
  // time) turns it off, with one warning, and this and every later product takes the classic
  // one. A failed cublasLtMatmul has queued nothing, so the classic path can write y.
  static kernels::Fallback lt_path("cublaslt", "the cuBLASLt forward product (bias/ReLU epilogue)",
                                   "classic cuBLAS with bias and ReLU passes");
  if (!lt_path.active()) return false;
  const uint32_t alignment[3] = {alignment_of(w), alignment_of(x), alignment_of(y)};
  // Per thread; the handle is in the key because a heuristic's choice is its device's.
  thread_local ShapeCache<LtPlan, 11> plans;
  LtPlan& plan = plans.get(
      {reinterpret_cast<intptr_t>(lt), s.n, s.in, s.out, static_cast<int64_t>(math),
       bias != nullptr, fuse_relu, alignment[0], alignment[1], alignment[2],
       static_cast<int64_t>(workspace_bytes)},
      [&] { return make_plan(lt, workspace_bytes, s, bias, fuse_relu, math, alignment); });
  if (!plan.supported) return false;
  // The one per-call attribute: set on this thread's own descriptor, read when the call is
  // queued (a captured graph keeps the pointer it saw).
  if (bias) {
    KESTREL_CUBLAS_CHECK(cublasLtMatmulDescSetAttribute(
        plan.op.d, CUBLASLT_MATMUL_DESC_BIAS_POINTER, &bias, sizeof(bias)));
  }
  const float one = 1.0f, zero = 0.0f;
  const cublasStatus_t status =
      lt_path.fault_injected()
          ? CUBLAS_STATUS_EXECUTION_FAILED
          : cublasLtMatmul(lt, plan.op.d, &one, w, plan.a.l, x, plan.b.l, &zero, y, plan.c.l, y,
                           plan.c.l, &plan.heuristic.algo, workspace, workspace_bytes, stream);
  if (status == CUBLAS_STATUS_SUCCESS) return true;
  lt_path.disable(
      fmt::format("cublasLtMatmul: {}{}", cublasGetStatusString(status),
                  lt_path.fault_injected() ? ", injected by KESTREL_FAULT_FAST_PATH" : ""));
  return false;
}

void linear_forward_gemm(cublasHandle_t blas, const LinearShape& s, const void* x, const void* w,
                         float* y, bool accumulate, MathMode math) {
  if (s.n == 0 || s.out == 0) return;
  // Column-major: Y'[out, n] = W'^T[out, in] * X'[in, n].
  gemm(blas, CUBLAS_OP_T, CUBLAS_OP_N, s.out, s.n, s.in, w, s.in, x, s.in, y, s.out, math,
       accumulate ? 1.0f : 0.0f);
}

void linear_backward_data(cublasHandle_t blas, const LinearShape& s, const void* dy, const void* w,
                          float* dx, MathMode math) {
  if (s.n == 0 || s.in == 0) return;
  // Column-major: DX'[in, n] = W'[in, out] * DY'[out, n].
  gemm(blas, CUBLAS_OP_N, CUBLAS_OP_N, s.in, s.n, s.out, w, s.in, dy, s.out, dx, s.in, math);
}

void linear_backward_weight(cublasHandle_t blas, const LinearShape& s, const void* x,
                            const void* dy, float* dw, MathMode math) {
  if (s.in == 0 || s.out == 0) return;
  // Column-major: DW'[in, out] = X'[in, n] * DY'[out, n]^T.
  gemm(blas, CUBLAS_OP_N, CUBLAS_OP_T, s.in, s.out, s.n, x, s.in, dy, s.out, dw, s.in, math);
}

}  // namespace kestrel::cuda
