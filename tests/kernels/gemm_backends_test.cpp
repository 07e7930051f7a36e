// kernels/cpu/gemm.cpp: every backend the build has computes C = alpha op(A) op(B) + beta C as
// a float64 reference does, within f32 rounding, for each transposition and for the tile shapes
// cpu::gemm hands them; and cpu::gemm (the backend gemm_serial picks, tiled) gives the same bits
// with 1 and 2 threads.
#include "kernels/cpu/gemm.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <random>
#include <vector>

#include "kernels/cpu/parallel.hpp"
#include "tests/support/random.hpp"

namespace kestrel {
namespace {

using cpu::GemmArgs;
using cpu::GemmBackend;

struct Problem {
  int64_t m, n, k;
  bool trans_a, trans_b;
  float alpha, beta;
};

struct Operands {
  std::vector<float> a, b, c;
  GemmArgs args;
};

Operands operands(const Problem& p, std::mt19937_64& gen) {
  std::uniform_real_distribution<float> u(-1.0f, 1.0f);
  Operands o;
  o.a.resize(static_cast<size_t>(p.m * p.k));
  o.b.resize(static_cast<size_t>(p.k * p.n));
  o.c.resize(static_cast<size_t>(p.m * p.n));
  for (std::vector<float>* v : {&o.a, &o.b, &o.c})
    for (float& x : *v) x = u(gen);
  o.args = GemmArgs{p.trans_a, p.trans_b, p.m, p.n, p.k, p.alpha, o.a.data(),
                    p.trans_a ? p.m : p.k, o.b.data(), p.trans_b ? p.k : p.n, p.beta,
                    o.c.data(), p.n};
  return o;
}

// alpha sum_k op(A)[i, k] op(B)[k, j] + beta C[i, j] in float64, and the sum of the terms'
// magnitudes (the scale f32 rounding is relative to).
void reference(const Problem& p, const Operands& o, std::vector<double>& value,
               std::vector<double>& scale) {
  value.assign(static_cast<size_t>(p.m * p.n), 0.0);
  scale.assign(value.size(), 0.0);
  for (int64_t i = 0; i < p.m; ++i)
    for (int64_t j = 0; j < p.n; ++j) {
      double sum = 0.0, mag = 0.0;
      for (int64_t q = 0; q < p.k; ++q) {
        const double a = p.trans_a ? o.a[static_cast<size_t>(q * p.m + i)]
                                   : o.a[static_cast<size_t>(i * p.k + q)];
        const double b = p.trans_b ? o.b[static_cast<size_t>(j * p.k + q)]
                                   : o.b[static_cast<size_t>(q * p.n + j)];
        sum += a * b;
        mag += std::abs(a * b);
      }
      const size_t at = static_cast<size_t>(i * p.n + j);
      const double c = o.c[at];
      value[at] = p.alpha * sum + p.beta * c;
      scale[at] = std::abs(p.alpha) * mag + std::abs(p.beta * c);
    }
}

const Problem kProblems[] = {
    {64, 256, 300, false, true, 1.0f, 0.0f},   // a Linear's forward tile: x W^T
    {64, 256, 300, false, false, 1.0f, 1.0f},  // its input gradient, accumulated
    {37, 129, 64, true, false, 0.5f, 0.0f},    // a weight gradient, odd sizes
    {5, 7, 1000, true, true, -1.0f, 2.0f},     // a long reduction, both transposed
};

TEST(GemmBackends, EachBuiltBackendMatchesTheFloat64Reference) {
  std::mt19937_64 gen(test::test_seed() + 4411);
  for (GemmBackend backend : {GemmBackend::OneDnn, GemmBackend::OpenBlas, GemmBackend::BuiltIn}) {
    if (!cpu::gemm_backend_built(backend)) continue;
    for (const Problem& p : kProblems) {
      SCOPED_TRACE(testing::Message() << "backend " << static_cast<int>(backend) << ", m " << p.m
                                      << " n " << p.n << " k " << p.k << " " << p.trans_a
                                      << p.trans_b);
      Operands o = operands(p, gen);
      std::vector<double> want, scale;
      reference(p, o, want, scale);
      ASSERT_TRUE(cpu::gemm_serial_on(backend, o.args));
      double worst = 0.0;
      for (size_t i = 0; i < want.size(); ++i)
        worst = std::max(worst, std::abs(o.c[i] - want[i]) / (scale[i] + 1e-30));
      // Each term's f32 rounding adds at most about k ulp of the magnitudes' sum.
      EXPECT_LT(worst, 4.0 * static_cast<double>(p.k + 2) * 6e-8);
    }
  }
}

TEST(GemmBackends, TiledProductsGiveTheSameBitsWithOneOrTwoThreads) {
  std::mt19937_64 gen(test::test_seed() + 4412);
  // Several tiles in both directions, and a single tile large enough to be split.
  for (const Problem& p : {Problem{200, 600, 96, false, true, 1.0f, 0.0f},
                           Problem{64, 200, 128, true, false, 1.0f, 1.0f}}) {
    Operands o = operands(p, gen);
    const std::vector<float> c0 = o.c;
    std::vector<float> results[2];
    for (int threads : {1, 2}) {
      cpu::set_num_threads(threads);
      o.c = c0;
      o.args.c = o.c.data();
      cpu::gemm(o.args);
      results[threads - 1] = o.c;
    }
    cpu::set_num_threads(0);
    EXPECT_EQ(std::memcmp(results[0].data(), results[1].data(), results[0].size() * sizeof(float)),
              0);
  }
}

}  // namespace
}  // namespace kestrel
