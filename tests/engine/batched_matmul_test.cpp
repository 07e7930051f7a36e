// batched_matmul against a naive float64 product written here: every transpose combination,
// alpha and beta, a two-level batch whose matrices are column blocks of wider rows (attention's
// heads), a few products (each tiled over threads) and many (one per thread), 1 vs 2 threads,
// argument errors.
#include "engine/ops/batched_matmul.hpp"

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <vector>

#include "kernels/cpu/parallel.hpp"
#include "tests/support/compare.hpp"
#include "tests/support/errors.hpp"
#include "tests/support/random.hpp"

namespace kestrel {
namespace {

// C_b = alpha op(A_b) op(B_b) + beta C_b in double, element by element, as the header defines.
std::vector<double> batched_ref(const kernels::BatchedGemm& g, const std::vector<double>& a,
                                const std::vector<double>& b, std::vector<double> c) {
  for (int64_t o = 0; o < g.outer; ++o)
    for (int64_t i = 0; i < g.inner; ++i) {
      const int64_t ao = g.a.offset(o, i), bo = g.b.offset(o, i), co = g.c.offset(o, i);
      for (int64_t r = 0; r < g.m; ++r)
        for (int64_t col = 0; col < g.n; ++col) {
          double sum = 0.0;
          for (int64_t p = 0; p < g.k; ++p) {
            const double av = g.trans_a ? a[static_cast<size_t>(ao + p * g.a.ld + r)]
                                        : a[static_cast<size_t>(ao + r * g.a.ld + p)];
            const double bv = g.trans_b ? b[static_cast<size_t>(bo + col * g.b.ld + p)]
                                        : b[static_cast<size_t>(bo + p * g.b.ld + col)];
            sum += av * bv;
          }
          double& out = c[static_cast<size_t>(co + r * g.c.ld + col)];
          out = g.alpha * sum + g.beta * out;
        }
    }
  return c;
}

// The elements a batch of `rows` x `cols` matrices with this layout spans.
int64_t span_of(const kernels::BatchedGemm& g, const kernels::StridedMatrices& s, int64_t rows) {
  return g.outer * s.outer_stride + (rows - 1) * s.ld + s.ld;  // generous: whole last rows
}

struct Case {
  bool trans_a, trans_b;
  int64_t outer, inner, m, n, k;
};

class BatchedMatmul : public ::testing::TestWithParam<Case> {};

TEST_P(BatchedMatmul, MatchesTheReference) {
  const Case c = GetParam();
  std::mt19937_64 gen(test::test_seed());
  Context ctx;
  // Each matrix is a column block of rows `inner * cols + 3` wide, samples one after another:
  // how attention addresses head h of sample n.
  kernels::BatchedGemm g;
  g.outer = c.outer, g.inner = c.inner, g.m = c.m, g.n = c.n, g.k = c.k;
  g.trans_a = c.trans_a, g.trans_b = c.trans_b;
  g.alpha = 0.75f, g.beta = 0.5f;
  const auto layout = [&](int64_t rows, int64_t cols) {
    const int64_t ld = c.inner * cols + 3;
    return kernels::StridedMatrices{ld, rows * ld, cols};
  };
  g.a = c.trans_a ? layout(c.k, c.m) : layout(c.m, c.k);
  g.b = c.trans_b ? layout(c.n, c.k) : layout(c.k, c.n);
  g.c = layout(c.m, c.n);
  const Tensor a = test::random_tensor(Shape{span_of(g, g.a, c.trans_a ? c.k : c.m)}, gen);
  const Tensor b = test::random_tensor(Shape{span_of(g, g.b, c.trans_b ? c.n : c.k)}, gen);
  Tensor out = test::random_tensor(Shape{span_of(g, g.c, c.m)}, gen);
  const std::vector<double> expected =
      batched_ref(g, test::to_double(a), test::to_double(b), test::to_double(out));
  const auto run = [&](int threads) {
    Tensor result = Tensor::empty(out.shape());
    result.copy_from(out);
    cpu::set_num_threads(threads);
    ops::batched_matmul(ctx, g, a.data<float>(), b.data<float>(), result.data<float>());
    cpu::set_num_threads(0);
    return result;
  };
  const Tensor one = run(1);
  // Elements outside every C block keep their values (beta only touches C).
  EXPECT_TRUE(test::all_close(expected, one, 1e-5, 1e-5));
  EXPECT_TRUE(test::same_bits(one, run(2)));
}

INSTANTIATE_TEST_SUITE_P(
    Layouts, BatchedMatmul,
    ::testing::Values(Case{false, false, 2, 3, 5, 4, 6}, Case{false, true, 3, 2, 7, 7, 4},
                      Case{true, false, 2, 2, 5, 3, 7}, Case{true, true, 1, 4, 3, 5, 2},
                      Case{false, true, 1, 1, 70, 40, 9},   // one product: tiled GEMM
                      Case{true, true, 3, 1, 90, 300, 20},  // three, each tiled
                      Case{true, false, 4, 4, 33, 8, 33},   // 16 products over the threads
                      Case{false, false, 2, 1, 1, 1, 1}),
    [](const ::testing::TestParamInfo<Case>& p) {
      const Case& c = p.param;
      return fmt::format("{}{}_{}x{}_m{}n{}k{}", c.trans_a ? "T" : "N", c.trans_b ? "T" : "N",
                         c.outer, c.inner, c.m, c.n, c.k);
    });

TEST(BatchedMatmulErrors, Arguments) {
  Context ctx;
  kernels::BatchedGemm g;
  g.m = 2, g.n = 3, g.k = 4;
  g.a = {3, 0, 0};  // a row of A holds 4 values
  g.b = {3, 0, 0};
  g.c = {3, 0, 0};
  float buffer[64] = {};
  test::expect_error([&] { ops::batched_matmul(ctx, g, buffer, buffer, buffer + 32); },
                     "batched_matmul: leading dimensions a 3, b 3, c 3 are shorter than the rows "
                     "they hold (4, 3, 3)");
  g.m = -1;
  test::expect_error([&] { ops::batched_matmul(ctx, g, buffer, buffer, buffer + 32); },
                     "sizes must not be negative");
}

}  // namespace
}  // namespace kestrel
