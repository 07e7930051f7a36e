// Fused softmax + cross-entropy against float64 / long double references: the mean loss, its
// gradient by central differences (with and without label smoothing), logits of magnitude 1e4,
// uniform logits, a hand-computed label-smoothing example, thread-count independence, the
// data-parallel gradient divisor, errors.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <ostream>
#include <tuple>
#include <utility>

#include "engine/ops/cross_entropy.hpp"
#include "kernels/cpu/parallel.hpp"
#include "tests/support/errors.hpp"
#include "tests/support/compare.hpp"
#include "tests/support/gradcheck.hpp"
#include "tests/support/random.hpp"

namespace kestrel {
namespace {

using Real = long double;

// Softmax of one row and its log-sum-exp, shifted by the row max (long double).
struct RowSoftmax {
  std::vector<Real> p;
  Real lse;
};
template <class T>
RowSoftmax row_softmax(const T* z, int64_t classes) {
  Real max = z[0];
  for (int64_t j = 1; j < classes; ++j) max = std::max<Real>(max, z[j]);
  Real sum = 0;
  for (int64_t j = 0; j < classes; ++j) sum += std::exp(static_cast<Real>(z[j]) - max);
  RowSoftmax out{std::vector<Real>(static_cast<size_t>(classes)), max + std::log(sum)};
  for (int64_t j = 0; j < classes; ++j)
    out.p[static_cast<size_t>(j)] = std::exp(static_cast<Real>(z[j]) - out.lse);
  return out;
}

// Mean over rows of -sum_j q_j log softmax(z)_j, q = (1 - eps) onehot + eps / C.
Real cross_entropy_reference(const std::vector<double>& z, const std::vector<int32_t>& labels,
                             int64_t classes, double eps) {
  const int64_t n = static_cast<int64_t>(labels.size());
  Real total = 0;
  for (int64_t r = 0; r < n; ++r) {
    const double* row = z.data() + r * classes;
    const Real lse = row_softmax(row, classes).lse;
    for (int64_t j = 0; j < classes; ++j) {
      const Real q = eps / static_cast<double>(classes) +
                     (j == labels[static_cast<size_t>(r)] ? 1.0 - eps : 0.0);
      total -= q * (static_cast<Real>(row[j]) - lse);
    }
  }
  return total / static_cast<Real>(n);
}

// d(mean loss)/dz = (softmax - q) / N in long double.
std::vector<double> cross_entropy_gradient_reference(const std::vector<double>& z,
                                                     const std::vector<int32_t>& labels,
                                                     int64_t classes, double eps) {
  const int64_t n = static_cast<int64_t>(labels.size());
  std::vector<double> d(z.size());
  for (int64_t r = 0; r < n; ++r) {
    const RowSoftmax s = row_softmax(z.data() + r * classes, classes);
    for (int64_t j = 0; j < classes; ++j) {
      const Real q = eps / static_cast<double>(classes) +
                     (j == labels[static_cast<size_t>(r)] ? 1.0 - eps : 0.0);
      d[static_cast<size_t>(r * classes + j)] =
          static_cast<double>((s.p[static_cast<size_t>(j)] - q) / static_cast<Real>(n));
    }
  }
  return d;
}

struct CeShape {
  int64_t n, classes;
};
void PrintTo(const CeShape& s, std::ostream* os) { *os << "N" << s.n << "_C" << s.classes; }

class CrossEntropyTest : public ::testing::TestWithParam<std::tuple<CeShape, float>> {
 protected:
  CeShape shape() const { return std::get<0>(GetParam()); }
  ops::CrossEntropySpec spec() const { return {std::get<1>(GetParam())}; }
  double eps() const { return static_cast<double>(std::get<1>(GetParam())); }
};

TEST_P(CrossEntropyTest, LossMatchesReference) {
  std::mt19937_64 gen(test::test_seed());
  Context ctx;
  const Tensor logits = test::random_tensor(Shape{shape().n, shape().classes}, gen, -4.0f, 4.0f);
  const Tensor labels = test::random_labels(shape().n, static_cast<int32_t>(shape().classes), gen);
  const float loss = ops::cross_entropy_forward_backward(ctx, logits, labels, nullptr, spec());
  const double expected = static_cast<double>(cross_entropy_reference(
      test::to_double(logits), labels.to_int_vector(), shape().classes, eps()));
  EXPECT_NEAR(loss, expected, 3e-7 * std::abs(expected) + 1e-7);
}

TEST_P(CrossEntropyTest, GradientMatchesCentralDifferences) {
  std::mt19937_64 gen(test::test_seed() + 1);
  Context ctx;
  const Tensor logits = test::random_tensor(Shape{shape().n, shape().classes}, gen, -4.0f, 4.0f);
  const Tensor labels = test::random_labels(shape().n, static_cast<int32_t>(shape().classes), gen);
  Tensor dlogits = test::random_tensor(logits.shape(), gen);
  const float loss = ops::cross_entropy_forward_backward(ctx, logits, labels, &dlogits, spec());

  const auto label_values = labels.to_int_vector();
  const auto f = [&](const std::vector<double>& z) {
    return std::vector<double>{static_cast<double>(
        cross_entropy_reference(z, label_values, shape().classes, eps()))};
  };
  const auto expected = test::numeric_gradient(f, test::to_double(logits), {1.0});
  // Observed: relative errors below 1e-7; the central differences are good to ~1e-9.
  EXPECT_TRUE(test::all_close(expected, dlogits, 1e-6, 5e-9));
  // The gradient pass returns the same loss as the evaluation-only pass.
  EXPECT_EQ(loss, ops::cross_entropy_forward_backward(ctx, logits, labels, nullptr, spec()));
}

TEST_P(CrossEntropyTest, InPlaceGradientEqualsOutOfPlace) {
  std::mt19937_64 gen(test::test_seed() + 2);
  Context ctx;
  Tensor logits = test::random_tensor(Shape{shape().n, shape().classes}, gen, -4.0f, 4.0f);
  const Tensor labels = test::random_labels(shape().n, static_cast<int32_t>(shape().classes), gen);
  Tensor dlogits = Tensor::empty(logits.shape());
  const float loss = ops::cross_entropy_forward_backward(ctx, logits, labels, &dlogits, spec());
  const float in_place = ops::cross_entropy_forward_backward(ctx, logits, labels, &logits, spec());
  EXPECT_EQ(loss, in_place);
  EXPECT_EQ(std::memcmp(dlogits.raw_data(), logits.raw_data(), logits.nbytes()), 0);
}

INSTANTIATE_TEST_SUITE_P(
    ShapesAndSmoothing, CrossEntropyTest,
    ::testing::Combine(::testing::Values(CeShape{1, 1}, CeShape{1, 2}, CeShape{3, 7},
                                         CeShape{64, 10}, CeShape{3, 201}),
                       ::testing::Values(0.0f, 0.1f)));

// Logits up to 1e4 in magnitude: a naive exp overflows. Some rows get near-ties at the top so
// that the softmax is not just one-hot there.
TEST(CrossEntropy, LogitsOfMagnitude1e4AreStable) {
  std::mt19937_64 gen(test::test_seed() + 3);
  Context ctx;
  for (const int64_t classes : {10, 1000}) {
    for (const float smoothing : {0.0f, 0.1f}) {
      const int64_t n = 16;
      Tensor logits = test::random_tensor(Shape{n, classes}, gen, -1e4f, 1e4f);
      float* z = logits.data<float>();
      std::uniform_real_distribution<float> gap(0.0f, 3.0f);
      for (int64_t r = 0; r < n; r += 2) {
        const float max = *std::max_element(z + r * classes, z + (r + 1) * classes);
        for (int64_t j = 0; j < 3; ++j) z[r * classes + (j * 7 + r) % classes] = max - gap(gen);
      }
      Tensor labels = test::random_labels(n, static_cast<int32_t>(classes), gen);
      labels.data<int32_t>()[0] = static_cast<int32_t>(
          std::max_element(z, z + classes) - z);  // one row with a small loss as well
      Tensor dlogits = Tensor::empty(logits.shape());
      const float loss = ops::cross_entropy_forward_backward(ctx, logits, labels, &dlogits,
                                                             ops::CrossEntropySpec{smoothing});
      const auto zd = test::to_double(logits);
      const auto label_values = labels.to_int_vector();
      const double expected =
          static_cast<double>(cross_entropy_reference(zd, label_values, classes, smoothing));
      ASSERT_TRUE(std::isfinite(loss)) << "C = " << classes;
      EXPECT_NEAR(loss, expected, 3e-7 * std::abs(expected)) << "C = " << classes;
      EXPECT_TRUE(test::all_close(
          cross_entropy_gradient_reference(zd, label_values, classes, smoothing), dlogits, 1e-6,
          1e-9))
          << "C = " << classes << ", smoothing " << smoothing;
    }
  }
}

// Equal logits: softmax is uniform, so the loss is log C for any label and any smoothing, and
// the gradient is (1/C - q) / N.
TEST(CrossEntropy, UniformLogitsGiveLogC) {
  std::mt19937_64 gen(test::test_seed() + 4);
  Context ctx;
  for (const int64_t classes : {2, 10, 1000}) {
    for (const float value : {0.0f, 3.25f, -1e4f}) {
      for (const float smoothing : {0.0f, 0.3f}) {
        const int64_t n = 4;
        Tensor logits = Tensor::empty(Shape{n, classes});
        logits.fill(value);
        const Tensor labels = test::random_labels(n, static_cast<int32_t>(classes), gen);
        Tensor dlogits = Tensor::empty(logits.shape());
        const float loss = ops::cross_entropy_forward_backward(ctx, logits, labels, &dlogits,
                                                               ops::CrossEntropySpec{smoothing});
        const double log_c = std::log(static_cast<double>(classes));
        EXPECT_NEAR(loss, log_c, 1e-6 * log_c) << "C = " << classes << ", value " << value;
        std::vector<double> expected(static_cast<size_t>(n * classes));
        const double eps = smoothing;
        for (int64_t r = 0; r < n; ++r)
          for (int64_t j = 0; j < classes; ++j)
            expected[static_cast<size_t>(r * classes + j)] =
                (1.0 / static_cast<double>(classes) - eps / static_cast<double>(classes) -
                 (j == labels.to_int_vector()[static_cast<size_t>(r)] ? 1.0 - eps : 0.0)) /
                static_cast<double>(n);
        EXPECT_TRUE(test::all_close(expected, dlogits, 1e-6, 1e-9)) << "C = " << classes;
      }
    }
  }
}

// logits [1, 2, 3], label 0, eps = 0.1 (q = [0.9 + 0.1/3, 0.1/3, 0.1/3]):
//   loss = log(e + e^2 + e^3) - (0.9 * 1 + 0.1 * (1 + 2 + 3) / 3) = 3.4076059644 - 1.1,
//   dlogits = softmax - q = [0.0900306 - 0.9333333, 0.2447285 - 0.0333333, 0.6652410 - 0.0333333].
// F.cross_entropy(torch.tensor([[1., 2., 3.]]), torch.tensor([0]), label_smoothing=0.1) gives
// the same 2.3076.
TEST(CrossEntropy, LabelSmoothingHandComputedExample) {
  Context ctx;
  const std::vector<float> z{1.0f, 2.0f, 3.0f};
  const std::vector<int32_t> label{0};
  const Tensor logits = Tensor::from_vector(Shape{1, 3}, z);
  const Tensor labels = Tensor::from_vector(Shape{1}, label);
  Tensor dlogits = Tensor::empty(Shape{1, 3});
  const float loss = ops::cross_entropy_forward_backward(ctx, logits, labels, &dlogits,
                                                         ops::CrossEntropySpec{0.1f});
  EXPECT_NEAR(loss, 2.3076059644443805, 2e-7);
  EXPECT_TRUE(test::all_close({-0.8433027601629529, 0.21139513772146434, 0.6319076224414886},
                              dlogits, 1e-6, 1e-7));
  // Without smoothing the same logits give -log softmax(z)_0 = 2.4076059644.
  EXPECT_NEAR(ops::cross_entropy_forward_backward(ctx, logits, labels, nullptr, {}),
              2.4076059644443805, 2e-7);
}

TEST(CrossEntropy, BitwiseEqualAcrossThreadCounts) {
  std::mt19937_64 gen(test::test_seed() + 5);
  Context ctx;
  // 1000 rows of 37: enough work for the row launch to run on both threads.
  const Tensor logits = test::random_tensor(Shape{1000, 37}, gen, -5.0f, 5.0f);
  const Tensor labels = test::random_labels(1000, 37, gen);
  float loss[2];
  Tensor dlogits[2];
  for (int t = 0; t < 2; ++t) {
    cpu::set_num_threads(t + 1);
    dlogits[t] = Tensor::empty(logits.shape());
    loss[t] = ops::cross_entropy_forward_backward(ctx, logits, labels, &dlogits[t],
                                                  ops::CrossEntropySpec{0.1f});
  }
  cpu::set_num_threads(0);
  EXPECT_EQ(std::memcmp(&loss[0], &loss[1], sizeof(float)), 0);
  EXPECT_EQ(std::memcmp(dlogits[0].raw_data(), dlogits[1].raw_data(), dlogits[0].nbytes()), 0);
}

using test::expect_error;

TEST(CrossEntropy, LabelOutOfRangeNamesRowAndLabel) {
  Context ctx;
  const Tensor logits = Tensor::zeros(Shape{4, 10});
  const std::vector<int32_t> too_big{1, 2, 10, 3}, negative{0, -1, 2, 3};
  expect_error(
      [&] {
        ops::cross_entropy_forward_backward(ctx, logits, Tensor::from_vector(Shape{4}, too_big),
                                            nullptr);
      },
      "cross_entropy: label 10 in row 2 is out of range [0, 10)");
  expect_error(
      [&] {
        ops::cross_entropy_forward_backward(ctx, logits, Tensor::from_vector(Shape{4}, negative),
                                            nullptr);
      },
      "cross_entropy: label -1 in row 1 is out of range [0, 10)");
}

// Data parallel: a rank's rows with gradient_divisor = the global batch's rows give exactly
// (bit for bit) those rows of the whole batch's gradient, and the loss is still the mean over
// the rank's own rows.
TEST(CrossEntropy, GradientDivisorGivesTheRowsOfTheGlobalBatchsGradient) {
  std::mt19937_64 gen(test::test_seed() + 7);
  Context ctx;
  for (float eps : {0.0f, 0.1f}) {
    const int64_t n = 13, classes = 10, split = 5;
    const Tensor logits = test::random_tensor(Shape{n, classes}, gen, -4.0f, 4.0f);
    const Tensor labels = test::random_labels(n, static_cast<int32_t>(classes), gen);
    Tensor whole = Tensor::empty(logits.shape());
    ops::cross_entropy_forward_backward(ctx, logits, labels, &whole, {eps});
    for (const auto& [begin, end] : {std::pair<int64_t, int64_t>{0, split}, {split, n}}) {
      const Tensor part_logits = logits.slice(begin, end), part_labels = labels.slice(begin, end);
      Tensor part = Tensor::empty(part_logits.shape());
      const float loss =
          ops::cross_entropy_forward_backward(ctx, part_logits, part_labels, &part, {eps, n});
      EXPECT_EQ(loss, ops::cross_entropy_forward_backward(ctx, part_logits, part_labels, nullptr,
                                                          {eps}));
      EXPECT_EQ(std::memcmp(part.raw_data(), whole.slice(begin, end).raw_data(), part.nbytes()), 0)
          << "rows [" << begin << ", " << end << ") with label smoothing " << eps;
    }
  }
  const Tensor logits = Tensor::zeros(Shape{4, 10});
  const Tensor labels = Tensor::zeros(Shape{4}, DType::I32);
  expect_error(
      [&] {
        ops::cross_entropy_forward_backward(ctx, logits, labels, nullptr, {0.0f, 3});
      },
      "cross_entropy: gradient_divisor 3 must be 0 or at least the 4 rows of the logits");
}

TEST(CrossEntropy, BadArgumentsAreErrors) {
  Context ctx;
  const Tensor logits = Tensor::zeros(Shape{4, 10});
  const Tensor float_labels = Tensor::zeros(Shape{4});
  expect_error([&] { ops::cross_entropy_forward_backward(ctx, logits, float_labels, nullptr); },
               "cross_entropy: labels must be i32, got f32[4] on cpu");
  const Tensor five_labels = Tensor::zeros(Shape{5}, DType::I32);
  expect_error([&] { ops::cross_entropy_forward_backward(ctx, logits, five_labels, nullptr); },
               "cross_entropy: 5 labels for 4 rows of logits (labels [5], logits [4, 10])");
  const Tensor labels = Tensor::zeros(Shape{4}, DType::I32);
  Tensor bad_grad = Tensor::zeros(Shape{4, 9});
  expect_error([&] { ops::cross_entropy_forward_backward(ctx, logits, labels, &bad_grad); },
               "cross_entropy: dlogits has shape [4, 9], expected [4, 10]");
  expect_error(
      [&] {
        ops::cross_entropy_forward_backward(ctx, logits, labels, nullptr,
                                            ops::CrossEntropySpec{1.5f});
      },
      "cross_entropy: label_smoothing must be in [0, 1], got 1.5");
  const Tensor flat_logits = Tensor::zeros(Shape{40});
  expect_error([&] { ops::cross_entropy_forward_backward(ctx, flat_logits, labels, nullptr); },
               "cross_entropy: logits must have 2 dimensions, got [40]");
}

}  // namespace
}  // namespace kestrel
