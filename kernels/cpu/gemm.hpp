#pragma once
// Single-precision GEMM on row-major matrices: C = alpha * op(A) * op(B) + beta * C, with
// op(A) of shape [m, k] and op(B) of shape [k, n].
#include <cstdint>

namespace kestrel::cpu {

struct GemmArgs {
  bool trans_a = false;
  bool trans_b = false;
  int64_t m = 0, n = 0, k = 0;
  float alpha = 1.0f;
  const float* a = nullptr;
  int64_t lda = 0;
  const float* b = nullptr;
  int64_t ldb = 0;
  float beta = 0.0f;
  float* c = nullptr;
  int64_t ldc = 0;
};

// One thread; for use inside an already parallel loop (one image per thread).
void gemm_serial(const GemmArgs& g);

// The libraries a serial product can run on. gemm_serial uses the first the build has (oneDNN,
// then OpenBLAS, then the built-in loops), unless KESTREL_CPU_GEMM=openblas.
enum class GemmBackend { OneDnn, OpenBlas, BuiltIn };
bool gemm_backend_built(GemmBackend backend);
// gemm_serial on the named backend (tests and benchmarks compare them); false if not built.
bool gemm_serial_on(GemmBackend backend, const GemmArgs& g);

// All threads: C is cut into fixed tiles (by size alone) computed in parallel, so the result
// does not depend on the thread count.
void gemm(const GemmArgs& g);

// The implementation in use: "oneDNN 2.6.3 sgemm" (where the build has oneDNN, unless
// KESTREL_CPU_GEMM=openblas), "OpenBLAS, Haswell kernels" (the kernels OpenBLAS runs on this
// CPU) or "built-in".
const char* gemm_backend_name();

}  // namespace kestrel::cpu
