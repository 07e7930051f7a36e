#include "kernels/cpu/batched_gemm.hpp"

#include "kernels/cpu/gemm.hpp"
#include "kernels/cpu/parallel.hpp"

namespace kestrel::cpu {

namespace {

// With fewer products than this, each product is tiled over the threads in turn instead of
// one product per thread (one sample with one or two heads would otherwise leave threads idle).
constexpr int64_t kMinProductsForBatchThreads = 4;

}  // namespace

void batched_gemm(const kernels::BatchedGemm& g, const float* a, const float* b, float* c) {
  const auto product = [&](int64_t index) {
    const int64_t o = index / g.inner, i = index % g.inner;
    GemmArgs args;
    args.trans_a = g.trans_a, args.trans_b = g.trans_b;
    args.m = g.m, args.n = g.n, args.k = g.k;
    args.alpha = g.alpha, args.beta = g.beta;
    args.a = a + g.a.offset(o, i), args.lda = g.a.ld;
    args.b = b + g.b.offset(o, i), args.ldb = g.b.ld;
    args.c = c + g.c.offset(o, i), args.ldc = g.c.ld;
    return args;
  };
  if (g.count() < kMinProductsForBatchThreads) {
    for (int64_t index = 0; index < g.count(); ++index) gemm(product(index));
    return;
  }
  parallel_for(
      g.count(), [&](int64_t index) { gemm_serial(product(index)); }, g.count() * g.m * g.n * g.k);
}

}  // namespace kestrel::cpu
