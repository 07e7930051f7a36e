// dropout against a float64 reference built from the documented mask rule
// (keep i iff uniform(seed, stream, i) >= p), backward against central differences, the keep
// rate against its binomial bounds, and the identities of eval mode, p = 0 and p = 1.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <ostream>

#include "engine/ops/dropout.hpp"
#include "kernels/common/philox.hpp"
#include "kernels/cpu/parallel.hpp"
#include "tests/support/errors.hpp"
#include "tests/support/compare.hpp"
#include "tests/support/gradcheck.hpp"
#include "tests/support/random.hpp"

namespace kestrel {
namespace {

std::vector<double> dropout_reference(const std::vector<double>& x, const ops::DropoutSpec& s) {
  std::vector<double> y(x.size());
  const double keep = 1.0 - static_cast<double>(s.p);
  for (size_t i = 0; i < x.size(); ++i)
    y[i] = rng::uniform(s.seed, s.stream, i) >= s.p ? x[i] / keep : 0.0;
  return y;
}

bool bitwise_equal(const Tensor& a, const Tensor& b) {
  return a.nbytes() == b.nbytes() && std::memcmp(a.raw_data(), b.raw_data(), a.nbytes()) == 0;
}

int64_t count_nonzero(const Tensor& t) {
  int64_t n = 0;
  for (float v : t.to_vector()) n += v != 0.0f ? 1 : 0;
  return n;
}

// Values away from zero, so that "kept" and "nonzero" are the same thing.
Tensor nonzero_tensor(const Shape& shape, std::mt19937_64& gen) {
  return test::random_tensor(shape, gen, 0.5f, 1.5f);
}

struct DropoutCase {
  Shape shape;
  float p;
};
void PrintTo(const DropoutCase& c, std::ostream* os) { *os << c.shape.str() << " p=" << c.p; }

class DropoutTest : public ::testing::TestWithParam<DropoutCase> {};

TEST_P(DropoutTest, ForwardMatchesReference) {
  std::mt19937_64 gen(test::test_seed());
  Context ctx;
  const ops::DropoutSpec spec{GetParam().p, gen(), gen()};
  const Tensor x = test::random_tensor(GetParam().shape, gen);
  Tensor y = Tensor::empty(GetParam().shape);
  ops::dropout_forward(ctx, x, y, spec, /*training=*/true);
  // x * float(1 / (1 - p)): two roundings of f32.
  EXPECT_TRUE(test::all_close(dropout_reference(test::to_double(x), spec), y, 2.5e-7, 0.0));
}

TEST_P(DropoutTest, BackwardMatchesCentralDifferences) {
  std::mt19937_64 gen(test::test_seed() + 1);
  Context ctx;
  const ops::DropoutSpec spec{GetParam().p, gen(), gen()};
  const Tensor x = test::random_tensor(GetParam().shape, gen);
  const Tensor dy = test::random_tensor(GetParam().shape, gen);
  Tensor dx = Tensor::empty(GetParam().shape);
  ops::dropout_backward(ctx, dy, dx, spec, /*training=*/true);
  const auto f = [&](const std::vector<double>& v) { return dropout_reference(v, spec); };
  const auto expected = test::numeric_gradient(f, test::to_double(x), test::to_double(dy));
  EXPECT_TRUE(test::all_close(expected, dx, 1e-6, 1e-7));
}

TEST_P(DropoutTest, BackwardDropsWhatTheForwardDropped) {
  std::mt19937_64 gen(test::test_seed() + 2);
  Context ctx;
  const ops::DropoutSpec spec{GetParam().p, gen(), gen()};
  const Tensor x = nonzero_tensor(GetParam().shape, gen);
  const Tensor dy = nonzero_tensor(GetParam().shape, gen);
  Tensor y = Tensor::empty(GetParam().shape), dx = Tensor::empty(GetParam().shape);
  ops::dropout_forward(ctx, x, y, spec, true);
  ops::dropout_backward(ctx, dy, dx, spec, true);
  const auto yv = y.to_vector(), dxv = dx.to_vector();
  for (size_t i = 0; i < yv.size(); ++i)
    ASSERT_EQ(yv[i] == 0.0f, dxv[i] == 0.0f) << "element " << i;
}

INSTANTIATE_TEST_SUITE_P(ShapesAndRates, DropoutTest,
                         ::testing::Values(DropoutCase{Shape{1}, 0.5f},
                                           DropoutCase{Shape{7, 3}, 0.1f},
                                           DropoutCase{Shape{2, 3, 5, 5}, 0.5f},
                                           DropoutCase{Shape{3, 1, 1, 33}, 0.3f},
                                           DropoutCase{Shape{4, 257}, 0.9f}));

// The number kept is Binomial(n, 1 - p); six standard deviations make a false alarm
// practically impossible while a biased mask (e.g. > instead of >=, or p and 1 - p swapped)
// fails by hundreds of sigmas.
TEST(Dropout, KeepRateWithinSixSigma) {
  std::mt19937_64 gen(test::test_seed() + 3);
  Context ctx;
  const int64_t n = int64_t{1} << 20;
  const Tensor x = nonzero_tensor(Shape{n}, gen);
  Tensor y = Tensor::empty(Shape{n});
  for (float p : {0.1f, 0.5f}) {
    ops::dropout_forward(ctx, x, y, ops::DropoutSpec{p, gen(), gen()}, true);
    const double rate = static_cast<double>(count_nonzero(y)) / static_cast<double>(n);
    const double sigma = std::sqrt(static_cast<double>(p) * (1.0 - p) / static_cast<double>(n));
    EXPECT_NEAR(rate, 1.0 - static_cast<double>(p), 6.0 * sigma) << "p = " << p;
  }
}

TEST(Dropout, SameSeedAndStreamGiveTheSameMask) {
  std::mt19937_64 gen(test::test_seed() + 4);
  Context ctx;
  const Tensor x = nonzero_tensor(Shape{64, 100}, gen);
  const ops::DropoutSpec spec{0.5f, gen(), gen()};
  Tensor y1 = Tensor::empty(x.shape()), y2 = Tensor::empty(x.shape());
  ops::dropout_forward(ctx, x, y1, spec, true);
  ops::dropout_forward(ctx, x, y2, spec, true);
  EXPECT_TRUE(bitwise_equal(y1, y2));
  // The mask depends on the flat index only, not on the shape.
  Tensor y3 = Tensor::empty(Shape{6400});
  ops::dropout_forward(ctx, x.view(Shape{6400}), y3, spec, true);
  EXPECT_EQ(std::memcmp(y1.raw_data(), y3.raw_data(), y1.nbytes()), 0);
}

// Masks under another stream or seed agree on a kept/dropped decision half the time (p = 0.5),
// as independent masks do.
TEST(Dropout, OtherStreamOrSeedGivesAnIndependentMask) {
  std::mt19937_64 gen(test::test_seed() + 5);
  Context ctx;
  const int64_t n = 1 << 16;
  const Tensor x = nonzero_tensor(Shape{n}, gen);
  const ops::DropoutSpec base{0.5f, gen(), 1000};
  Tensor y = Tensor::empty(x.shape()), other = Tensor::empty(x.shape());
  ops::dropout_forward(ctx, x, y, base, true);
  for (const ops::DropoutSpec& changed :
       {ops::DropoutSpec{0.5f, base.seed, base.stream + 1},
        ops::DropoutSpec{0.5f, base.seed + 1, base.stream}}) {
    ops::dropout_forward(ctx, x, other, changed, true);
    const auto a = y.to_vector(), b = other.to_vector();
    int64_t disagree = 0;
    for (size_t i = 0; i < a.size(); ++i) disagree += (a[i] == 0.0f) != (b[i] == 0.0f) ? 1 : 0;
    const double fraction = static_cast<double>(disagree) / static_cast<double>(n);
    EXPECT_NEAR(fraction, 0.5, 6.0 * std::sqrt(0.25 / static_cast<double>(n)))
        << "seed " << changed.seed << " stream " << changed.stream;
  }
}

TEST(Dropout, EvalModeAndZeroRateAreIdentity) {
  std::mt19937_64 gen(test::test_seed() + 6);
  Context ctx;
  const Tensor x = test::random_tensor(Shape{5, 17}, gen);
  Tensor y = Tensor::empty(x.shape()), dx = Tensor::empty(x.shape());
  ops::dropout_forward(ctx, x, y, ops::DropoutSpec{0.5f, 1, 2}, /*training=*/false);
  EXPECT_TRUE(bitwise_equal(x, y));
  ops::dropout_backward(ctx, x, dx, ops::DropoutSpec{0.5f, 1, 2}, /*training=*/false);
  EXPECT_TRUE(bitwise_equal(x, dx));
  y.fill(7.0f);
  ops::dropout_forward(ctx, x, y, ops::DropoutSpec{0.0f, 1, 2}, /*training=*/true);
  EXPECT_TRUE(bitwise_equal(x, y));
  dx.fill(7.0f);
  ops::dropout_backward(ctx, x, dx, ops::DropoutSpec{0.0f, 1, 2}, /*training=*/true);
  EXPECT_TRUE(bitwise_equal(x, dx));
}

TEST(Dropout, RateOneZeroesEverything) {
  std::mt19937_64 gen(test::test_seed() + 7);
  Context ctx;
  const Tensor x = nonzero_tensor(Shape{3, 50}, gen);
  Tensor y = Tensor::empty(x.shape()), dx = Tensor::empty(x.shape());
  ops::dropout_forward(ctx, x, y, ops::DropoutSpec{1.0f, 3, 4}, true);
  ops::dropout_backward(ctx, x, dx, ops::DropoutSpec{1.0f, 3, 4}, true);
  for (float v : y.to_vector()) ASSERT_EQ(v, 0.0f);
  for (float v : dx.to_vector()) ASSERT_EQ(v, 0.0f);
}

// Kept values are x / (1 - p): exactly 2x and 4x where 1 / (1 - p) is a power of two, and
// within two f32 roundings otherwise.
TEST(Dropout, KeptValuesAreScaledByInverseKeepProbability) {
  std::mt19937_64 gen(test::test_seed() + 8);
  Context ctx;
  const Tensor x = nonzero_tensor(Shape{4096}, gen);
  Tensor y = Tensor::empty(x.shape());
  for (float p : {0.5f, 0.75f, 0.3f}) {
    ops::dropout_forward(ctx, x, y, ops::DropoutSpec{p, gen(), 0}, true);
    const auto xv = x.to_vector(), yv = y.to_vector();
    const double scale = 1.0 / (1.0 - static_cast<double>(p));
    int64_t kept = 0;
    for (size_t i = 0; i < xv.size(); ++i) {
      if (yv[i] == 0.0f) continue;
      ++kept;
      if (p != 0.3f)
        ASSERT_EQ(yv[i], xv[i] * static_cast<float>(scale)) << "p = " << p << ", element " << i;
      else
        ASSERT_NEAR(yv[i], xv[i] * scale, 2.5e-7 * xv[i] * scale) << "element " << i;
    }
    EXPECT_GT(kept, 0) << "p = " << p;
  }
}

TEST(Dropout, InPlace) {
  std::mt19937_64 gen(test::test_seed() + 9);
  Context ctx;
  Tensor x = test::random_tensor(Shape{9, 13}, gen);
  const ops::DropoutSpec spec{0.4f, gen(), gen()};
  const auto expected = dropout_reference(test::to_double(x), spec);
  ops::dropout_forward(ctx, x, x, spec, true);
  EXPECT_TRUE(test::all_close(expected, x, 2.5e-7, 0.0));
}

TEST(Dropout, BitwiseEqualAcrossThreadCounts) {
  std::mt19937_64 gen(test::test_seed() + 10);
  Context ctx;
  const Tensor x = test::random_tensor(Shape{300, 130}, gen);  // above kMinParallelWork
  const ops::DropoutSpec spec{0.5f, gen(), gen()};
  Tensor y[2], dx[2];
  for (int t = 0; t < 2; ++t) {
    cpu::set_num_threads(t + 1);
    y[t] = Tensor::empty(x.shape());
    dx[t] = Tensor::empty(x.shape());
    ops::dropout_forward(ctx, x, y[t], spec, true);
    ops::dropout_backward(ctx, x, dx[t], spec, true);
  }
  cpu::set_num_threads(0);
  EXPECT_TRUE(bitwise_equal(y[0], y[1]));
  EXPECT_TRUE(bitwise_equal(dx[0], dx[1]));
}

using test::expect_error;

TEST(Dropout, BadRateAndShapesAreErrors) {
  Context ctx;
  const Tensor x = Tensor::zeros(Shape{2, 3});
  Tensor y = Tensor::zeros(Shape{2, 3}), bad = Tensor::zeros(Shape{3, 2});
  expect_error([&] { ops::dropout_forward(ctx, x, y, ops::DropoutSpec{1.5f, 0, 0}, true); },
               "dropout: p must be in [0, 1], got 1.5");
  expect_error([&] { ops::dropout_forward(ctx, x, y, ops::DropoutSpec{-0.1f, 0, 0}, false); },
               "dropout: p must be in [0, 1], got -0.1");
  expect_error([&] { ops::dropout_forward(ctx, x, bad, ops::DropoutSpec{}, true); },
               "dropout: output has shape [3, 2], expected [2, 3]");
  expect_error([&] { ops::dropout_backward(ctx, x, bad, ops::DropoutSpec{}, true); },
               "dropout_backward: grad_input has shape [3, 2], expected [2, 3]");
}

}  // namespace
}  // namespace kestrel
