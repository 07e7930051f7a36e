#include "kernels/cpu/gemm.hpp"

#include <fmt/format.h>

#include <omp.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <string>

#include "kernels/cpu/parallel.hpp"

#if defined(KESTREL_HAVE_BLAS)
#include <cblas.h>
#endif
#if defined(KESTREL_HAVE_ONEDNN)
#include <oneapi/dnnl/dnnl.h>
#endif

namespace kestrel::cpu {

namespace {

// Tile of C handed to one serial call. Large enough for BLAS to pack efficiently.
constexpr int64_t kTileM = 64;
constexpr int64_t kTileN = 256;
// A product that fits one tile but has at least this many multiply-adds (LeNet's fully
// connected layers at batch 64) is cut in two, so that two threads share it.
constexpr int64_t kSplitSingleTileWork = int64_t{1} << 17;

struct Tiling {
  int64_t m, n;  // tile sizes
};

// Depends on the shape alone, never on the thread count.
Tiling tiling(const GemmArgs& g) {
  Tiling t{kTileM, kTileN};
  if (g.m <= t.m && g.n <= t.n && g.m * g.n * g.k >= kSplitSingleTileWork) {
    // Halve the longer side, rounded up to a multiple of 16 (whole BLAS register blocks).
    const auto half = [](int64_t v) { return ((v + 1) / 2 + 15) / 16 * 16; };
    if (g.m >= g.n && g.m > 16)
      t.m = half(g.m);
    else if (g.n > 16)
      t.n = half(g.n);
  }
  return t;
}

#if defined(KESTREL_HAVE_BLAS)
void ensure_blas_single_threaded() {
  // kestrel parallelises above BLAS; a threaded BLAS inside our threads would oversubscribe
  // and make results depend on its own thread count.
  static std::once_flag once;
  std::call_once(once, [] { openblas_set_num_threads(1); });
}
#endif

// Built-in fallback: i-k-j loops with a fixed k order, vectorisable inner loop.
float load_a(const GemmArgs& g, int64_t i, int64_t p) {
  return g.trans_a ? g.a[p * g.lda + i] : g.a[i * g.lda + p];
}
float load_b(const GemmArgs& g, int64_t p, int64_t j) {
  return g.trans_b ? g.b[j * g.ldb + p] : g.b[p * g.ldb + j];
}

// oneDNN's sgemm where the build has it: on this project's AVX-512 machine it runs a 64x256
// tile 1.4-2.2x faster than OpenBLAS's Haswell kernels (docs/perf.md). KESTREL_CPU_GEMM=openblas
// keeps OpenBLAS (read once; for comparing the two; any other value is warned about and
// ignored: the first read may be inside a parallel loop, where nothing may throw).
bool use_onednn_sgemm() {
  if (!gemm_backend_built(GemmBackend::OneDnn)) return false;
  static const bool use = [] {
    const char* choice = std::getenv("KESTREL_CPU_GEMM");
    if (choice == nullptr || *choice == '\0' || std::strcmp(choice, "onednn") == 0) return true;
    if (std::strcmp(choice, "openblas") == 0) return false;
    fmt::print(stderr, "kestrel: warning: KESTREL_CPU_GEMM={} is neither onednn nor openblas; "
               "using onednn\n", choice);
    return true;
  }();
  return use;
}

#if defined(KESTREL_HAVE_ONEDNN)
// One tile on the calling thread. oneDNN opens its own OpenMP region, which outside a parallel
// loop (or with nesting enabled) would take every thread and could split k by the thread count;
// the calling task's team size is set to one for the call (an ICV of this task alone, restored
// after), so the bits depend on the shape alone.
bool onednn_sgemm_serial(const GemmArgs& g) {
  const int threads = omp_get_max_threads();
  omp_set_num_threads(1);
  const dnnl_status_t status =
      dnnl_sgemm(g.trans_a ? 'T' : 'N', g.trans_b ? 'T' : 'N', g.m, g.n, g.k, g.alpha, g.a, g.lda,
                 g.b, g.ldb, g.beta, g.c, g.ldc);
  omp_set_num_threads(threads);
  // It refuses only arguments cblas_sgemm would refuse too; the caller then runs that.
  return status == dnnl_success;
}
#endif

#if defined(KESTREL_HAVE_BLAS)
void openblas_sgemm_serial(const GemmArgs& g) {
  ensure_blas_single_threaded();
  cblas_sgemm(CblasRowMajor, g.trans_a ? CblasTrans : CblasNoTrans,
              g.trans_b ? CblasTrans : CblasNoTrans, static_cast<blasint>(g.m),
              static_cast<blasint>(g.n), static_cast<blasint>(g.k), g.alpha, g.a,
              static_cast<blasint>(g.lda), g.b, static_cast<blasint>(g.ldb), g.beta, g.c,
              static_cast<blasint>(g.ldc));
}
#endif

void builtin_sgemm_serial(const GemmArgs& g) {
  for (int64_t i = 0; i < g.m; ++i) {
    float* c = g.c + i * g.ldc;
    for (int64_t j = 0; j < g.n; ++j) c[j] = g.beta == 0.0f ? 0.0f : g.beta * c[j];
    for (int64_t p = 0; p < g.k; ++p) {
      const float a = g.alpha * load_a(g, i, p);
      if (!g.trans_b) {
        const float* b = g.b + p * g.ldb;
        for (int64_t j = 0; j < g.n; ++j) c[j] += a * b[j];
      } else {
        for (int64_t j = 0; j < g.n; ++j) c[j] += a * load_b(g, p, j);
      }
    }
  }
}

}  // namespace

bool gemm_backend_built(GemmBackend backend) {
  switch (backend) {
    case GemmBackend::OneDnn:
#if defined(KESTREL_HAVE_ONEDNN)
      return true;
#else
      return false;
#endif
    case GemmBackend::OpenBlas:
#if defined(KESTREL_HAVE_BLAS)
      return true;
#else
      return false;
#endif
    case GemmBackend::BuiltIn: return true;
  }
  return false;
}

bool gemm_serial_on(GemmBackend backend, const GemmArgs& g) {
  if (!gemm_backend_built(backend)) return false;
  if (g.m == 0 || g.n == 0) return true;
  switch (backend) {
    case GemmBackend::OneDnn:
#if defined(KESTREL_HAVE_ONEDNN)
      return onednn_sgemm_serial(g);
#else
      return false;
#endif
    case GemmBackend::OpenBlas:
#if defined(KESTREL_HAVE_BLAS)
      openblas_sgemm_serial(g);
#endif
      return true;
    case GemmBackend::BuiltIn: builtin_sgemm_serial(g); return true;
  }
  return false;
}

void gemm_serial(const GemmArgs& g) {
  if (use_onednn_sgemm() && gemm_serial_on(GemmBackend::OneDnn, g)) return;
  gemm_serial_on(gemm_backend_built(GemmBackend::OpenBlas) ? GemmBackend::OpenBlas
                                                          : GemmBackend::BuiltIn,
                 g);
}

void gemm(const GemmArgs& g) {
  if (g.m == 0 || g.n == 0) return;
  const Tiling size = tiling(g);
  const int64_t tiles_m = (g.m + size.m - 1) / size.m;
  const int64_t tiles_n = (g.n + size.n - 1) / size.n;
  parallel_for(tiles_m * tiles_n, [&](int64_t t) {
    const int64_t i0 = (t / tiles_n) * size.m, j0 = (t % tiles_n) * size.n;
    GemmArgs tile = g;
    tile.m = std::min(size.m, g.m - i0);
    tile.n = std::min(size.n, g.n - j0);
    tile.a = g.trans_a ? g.a + i0 : g.a + i0 * g.lda;
    tile.b = g.trans_b ? g.b + j0 * g.ldb : g.b + j0;
    tile.c = g.c + i0 * g.ldc + j0;
    gemm_serial(tile);
  });
}

const char* gemm_backend_name() {
#if defined(KESTREL_HAVE_ONEDNN)
  if (use_onednn_sgemm()) {
    static const std::string name = [] {
      const dnnl_version_t* v = dnnl_version();
      return fmt::format("oneDNN {}.{}.{} sgemm", v->major, v->minor, v->patch);
    }();
    return name.c_str();
  }
#endif
#if defined(KESTREL_HAVE_BLAS)
  // The kernels OpenBLAS chose for this CPU (or OPENBLAS_CORETYPE named): what its speed
  // depends on, so benchmarks and reports say it.
  static const std::string name = fmt::format("OpenBLAS, {} kernels", openblas_get_corename());
  return name.c_str();
#else
  return "built-in";
#endif
}

}  // namespace kestrel::cpu
