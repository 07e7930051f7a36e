// init::symmetric_eigen and init::patch_whitening: eigenpairs checked by A v = lambda v and
// orthonormality on random symmetric matrices (repeated eigenvalues included); whitening
// filters checked against a patch covariance the test computes itself in float64: each filter
// pair is (v, -v) with C v = lambda v, by decreasing lambda, scaled by 1 / sqrt(lambda + eps).
#include "engine/init/patch_whitening.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

#include "engine/init/symmetric_eigen.hpp"
#include "tests/support/errors.hpp"
#include "tests/support/random.hpp"

namespace kestrel::init {
namespace {

std::vector<double> random_symmetric(int64_t n, std::mt19937_64& gen) {
  std::normal_distribution<double> normal;
  std::vector<double> a(static_cast<size_t>(n * n));
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = i; j < n; ++j)
      a[static_cast<size_t>(i * n + j)] = a[static_cast<size_t>(j * n + i)] = normal(gen);
  return a;
}

// max |A v_j - lambda_j v_j| and max |V^T V - I|, relative to the largest |lambda|.
void expect_eigenpairs(const std::vector<double>& a, int64_t n, const SymmetricEigen& e) {
  double scale = 1e-300;
  for (double v : e.values) scale = std::max(scale, std::fabs(v));
  for (int64_t j = 0; j < n; ++j) {
    if (j > 0) {
      EXPECT_LE(e.values[static_cast<size_t>(j - 1)], e.values[static_cast<size_t>(j)]);
    }
    for (int64_t i = 0; i < n; ++i) {
      double av = 0.0;
      for (int64_t k = 0; k < n; ++k)
        av += a[static_cast<size_t>(i * n + k)] * e.vectors[static_cast<size_t>(k * n + j)];
      const double lv = e.values[static_cast<size_t>(j)] * e.vectors[static_cast<size_t>(i * n + j)];
      EXPECT_NEAR(av / scale, lv / scale, 1e-12) << "row " << i << " of pair " << j;
    }
    for (int64_t m = 0; m < n; ++m) {
      double dot = 0.0;
      for (int64_t k = 0; k < n; ++k)
        dot += e.vectors[static_cast<size_t>(k * n + j)] * e.vectors[static_cast<size_t>(k * n + m)];
      EXPECT_NEAR(dot, j == m ? 1.0 : 0.0, 1e-12) << "columns " << j << ", " << m;
    }
  }
}

TEST(SymmetricEigen, RandomMatricesDecompose) {
  std::mt19937_64 gen(test::test_seed());
  for (int64_t n : {1, 2, 3, 7, 12, 27}) {
    SCOPED_TRACE("n = " + std::to_string(n));
    const std::vector<double> a = random_symmetric(n, gen);
    expect_eigenpairs(a, n, symmetric_eigen(a, n));
  }
}

TEST(SymmetricEigen, RepeatedEigenvaluesStillGiveAnOrthonormalBasis) {
  // Q diag(3, 3, 3, -1, -1, 5) Q^T with Q from the eigenvectors of a random matrix.
  std::mt19937_64 gen(test::test_seed() + 1);
  const int64_t n = 6;
  const SymmetricEigen q = symmetric_eigen(random_symmetric(n, gen), n);
  const double d[] = {3, 3, 3, -1, -1, 5};
  std::vector<double> a(static_cast<size_t>(n * n), 0.0);
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = 0; j < n; ++j)
      for (int64_t k = 0; k < n; ++k)
        a[static_cast<size_t>(i * n + j)] += q.vectors[static_cast<size_t>(i * n + k)] * d[k] *
                                             q.vectors[static_cast<size_t>(j * n + k)];
  const SymmetricEigen e = symmetric_eigen(a, n);
  expect_eigenpairs(a, n, e);
  EXPECT_NEAR(e.values.front(), -1.0, 1e-12);
  EXPECT_NEAR(e.values.back(), 5.0, 1e-12);
}

TEST(SymmetricEigen, BadInputIsRefused) {
  test::expect_error([] { symmetric_eigen({1.0, 2.0, 3.0}, 2); }, "3 entries for a 2x2 matrix");
  test::expect_error([] { symmetric_eigen({NAN}, 1); }, "entry (0, 0) is nan");
}

// sum over patches of p p^T / count, patches flattened as [C, kh, kw], in float64.
std::vector<double> patch_covariance(const Tensor& images, int64_t kh, int64_t kw) {
  const std::vector<double> x = test::to_double(images);
  const int64_t n = images.dim(0), c = images.dim(1), h = images.dim(2), w = images.dim(3);
  const int64_t d = c * kh * kw;
  std::vector<double> cov(static_cast<size_t>(d * d), 0.0);
  int64_t count = 0;
  for (int64_t b = 0; b < n; ++b)
    for (int64_t y = 0; y + kh <= h; ++y)
      for (int64_t z = 0; z + kw <= w; ++z, ++count)
        for (int64_t e = 0; e < d; ++e)
          for (int64_t f = 0; f < d; ++f) {
            const auto at = [&](int64_t k) {
              const int64_t ch = k / (kh * kw), i = k / kw % kh, j = k % kw;
              return x[static_cast<size_t>(((b * c + ch) * h + y + i) * w + z + j)];
            };
            cov[static_cast<size_t>(e * d + f)] += at(e) * at(f);
          }
  for (double& v : cov) v /= static_cast<double>(count);
  return cov;
}

TEST(PatchWhitening, FiltersArePairedScaledEigenvectorsOfThePatchCovariance) {
  std::mt19937_64 gen(test::test_seed() + 2);
  struct Case {
    int64_t c, kh, kw;
  };
  for (const Case k : {Case{3, 2, 2}, Case{1, 3, 3}, Case{2, 2, 3}}) {
    SCOPED_TRACE("C " + std::to_string(k.c) + ", " + std::to_string(k.kh) + "x" +
                 std::to_string(k.kw));
    // Correlated channels (a shared component) so that the eigenvalues spread.
    Tensor images = test::random_tensor(Shape{6, k.c, 9, 8}, gen);
    float* px = images.data<float>();
    for (int64_t i = 0; i < images.numel() / k.c; ++i) px[i] *= 2.0f;
    const double eps = 5e-4;
    const Tensor w = patch_whitening_filters(images, k.kh, k.kw, eps);
    const int64_t d = k.c * k.kh * k.kw;
    ASSERT_EQ(w.shape(), (Shape{2 * d, k.c, k.kh, k.kw}));
    const std::vector<double> cov = patch_covariance(images, k.kh, k.kw);
    const std::vector<double> wf = test::to_double(w);
    double trace = 0.0;  // >= the largest eigenvalue: the scale of float32 rounding below
    for (int64_t e = 0; e < d; ++e) trace += cov[static_cast<size_t>(e * d + e)];
    double previous = INFINITY;
    for (int64_t f = 0; f < d; ++f) {
      // The filter is v / sqrt(lambda + eps): its Rayleigh quotient gives lambda, and
      // C w = lambda w holds for it.
      double wcw = 0.0, ww = 0.0;
      std::vector<double> cw(static_cast<size_t>(d), 0.0);
      for (int64_t e = 0; e < d; ++e) {
        for (int64_t g = 0; g < d; ++g)
          cw[static_cast<size_t>(e)] += cov[static_cast<size_t>(e * d + g)] * wf[static_cast<size_t>(f * d + g)];
        wcw += wf[static_cast<size_t>(f * d + e)] * cw[static_cast<size_t>(e)];
        ww += wf[static_cast<size_t>(f * d + e)] * wf[static_cast<size_t>(f * d + e)];
      }
      const double lambda = wcw / ww;
      EXPECT_LE(lambda, previous * (1 + 1e-9)) << "filter " << f << " out of order";
      previous = lambda;
      EXPECT_NEAR(ww, 1.0 / (lambda + eps), 1e-5 / (lambda + eps)) << "filter " << f;
      for (int64_t e = 0; e < d; ++e) {
        EXPECT_NEAR(cw[static_cast<size_t>(e)], lambda * wf[static_cast<size_t>(f * d + e)],
                    1e-5 * std::sqrt(ww) * trace)
            << "filter " << f << ", element " << e;
        EXPECT_EQ(w.data<float>()[(d + f) * d + e], -w.data<float>()[f * d + e]);
      }
    }
  }
}

TEST(PatchWhitening, FillsAWeightOfTheRightShapeAndRefusesOthers) {
  std::mt19937_64 gen(test::test_seed() + 3);
  Context ctx;
  const Tensor images = test::random_tensor(Shape{4, 3, 10, 10}, gen);
  Tensor w = Tensor::zeros(Shape{24, 3, 2, 2}, DType::F32, Device::cpu());
  patch_whitening(ctx, w, images);
  const Tensor expected = patch_whitening_filters(images, 2, 2);
  EXPECT_EQ(w.to_vector(), expected.to_vector());
  Tensor wrong = Tensor::zeros(Shape{16, 3, 2, 2}, DType::F32, Device::cpu());
  test::expect_error([&] { patch_whitening(ctx, wrong, images); }, "into 24 filters");
  test::expect_error([&] { patch_whitening_filters(images, 11, 2); }, "11x2 patches");
}

}  // namespace
}  // namespace kestrel::init
