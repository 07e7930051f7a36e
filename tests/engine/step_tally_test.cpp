// ops::cross_entropy_tally, the training step's loss and hits kept on the device: the tally's
// loss is the long-double mean cross-entropy (within f32 rounding) and, bit for bit, what
// cross_entropy_forward_backward returns; its hits are the argmax hits counted here; its
// gradient is cross_entropy_forward_backward's, byte for byte; the data-parallel divisor and
// label smoothing carry through; a rank with no rows tallies zeros.
#include "engine/ops/step_tally.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>

#include "engine/ops/classification.hpp"
#include "engine/ops/cross_entropy.hpp"
#include "tests/support/errors.hpp"
#include "tests/support/random.hpp"

namespace kestrel {
namespace {

struct Case {
  int64_t rows, classes;
  float smoothing;
  int64_t divisor;
};

// The mean loss and the hits in long double, the way torch defines them.
std::pair<long double, int64_t> reference(const Tensor& logits, const Tensor& labels, float eps) {
  const int64_t n = logits.dim(0), c = logits.dim(1);
  const float* z = logits.data<float>();
  const int32_t* y = labels.data<int32_t>();
  long double total = 0;
  int64_t hits = 0;
  for (int64_t r = 0; r < n; ++r) {
    const float* row = z + r * c;
    long double max = row[0];
    int64_t best = 0;
    for (int64_t j = 1; j < c; ++j)
      if (row[j] > max) max = row[j], best = j;
    long double sum = 0;
    for (int64_t j = 0; j < c; ++j) sum += std::exp(static_cast<long double>(row[j]) - max);
    const long double lse = max + std::log(sum);
    for (int64_t j = 0; j < c; ++j) {
      const long double q = static_cast<long double>(eps) / c + (j == y[r] ? 1.0L - eps : 0.0L);
      total -= q * (row[j] - lse);
    }
    hits += best == y[r] ? 1 : 0;
  }
  return {total / n, hits};
}

TEST(StepTally, MatchesTheReferenceAndTheHostOpsBitForBit) {
  std::mt19937_64 gen(test::test_seed());
  Context ctx;
  for (const Case& k : {Case{1, 10, 0.0f, 0}, Case{64, 10, 0.0f, 0}, Case{37, 100, 0.1f, 0},
                        Case{13, 10, 0.0f, 52}}) {
    SCOPED_TRACE(testing::Message() << k.rows << "x" << k.classes << " eps " << k.smoothing
                                    << " divisor " << k.divisor);
    const Tensor logits = test::random_tensor(Shape{k.rows, k.classes}, gen, -4.0f, 4.0f);
    const Tensor labels = test::random_labels(k.rows, static_cast<int32_t>(k.classes), gen);
    Tensor d_tally = Tensor::empty(logits.shape()), d_host = Tensor::empty(logits.shape());
    Tensor tally = Tensor::empty(Shape{2}, DType::F64);
    auto* t = reinterpret_cast<kernels::StepTally*>(tally.data<double>());
    ops::cross_entropy_tally(ctx, logits, labels, &d_tally, {k.smoothing, k.divisor}, t);

    const float loss = ops::cross_entropy_forward_backward(ctx, logits, labels, &d_host,
                                                           {k.smoothing, k.divisor});
    const int64_t hits = ops::count_correct(ctx, logits, labels);
    const auto [ref_loss, ref_hits] = reference(logits, labels, k.smoothing);
    EXPECT_EQ(t->loss_times_rows, static_cast<double>(loss) * static_cast<double>(k.rows));
    EXPECT_NEAR(t->loss_times_rows / k.rows, static_cast<double>(ref_loss),
                2e-6 * static_cast<double>(ref_loss));
    EXPECT_EQ(t->hits, static_cast<double>(hits));
    EXPECT_EQ(t->hits, static_cast<double>(ref_hits));
    EXPECT_EQ(std::memcmp(d_tally.data<float>(), d_host.data<float>(), d_host.nbytes()), 0);
  }
}

TEST(StepTally, ARankWithoutRowsTalliesZeros) {
  Context ctx;
  Tensor tally = Tensor::empty(Shape{2}, DType::F64);
  tally.data<double>()[0] = 3.5;
  tally.data<double>()[1] = 7.0;
  ops::empty_tally(ctx, reinterpret_cast<kernels::StepTally*>(tally.data<double>()));
  EXPECT_EQ(tally.data<double>()[0], 0.0);
  EXPECT_EQ(tally.data<double>()[1], 0.0);
}

TEST(StepTally, BadArgumentsAreErrors) {
  std::mt19937_64 gen(test::test_seed() + 1);
  Context ctx;
  const Tensor logits = test::random_tensor(Shape{4, 10}, gen);
  const Tensor labels = test::random_labels(4, 10, gen);
  Tensor d = Tensor::empty(Shape{4, 10}), wrong = Tensor::empty(Shape{4, 9});
  Tensor tally = Tensor::empty(Shape{2}, DType::F64);
  auto* t = reinterpret_cast<kernels::StepTally*>(tally.data<double>());
  test::expect_error([&] { ops::cross_entropy_tally(ctx, logits, labels, &wrong, {}, t); },
                     "dlogits");
  test::expect_error([&] { ops::cross_entropy_tally(ctx, logits, labels, &d, {0.0f, 3}, t); },
                     "gradient_divisor 3");
  test::expect_error(
      [&] { ops::cross_entropy_tally(ctx, logits, labels.slice(0, 3), &d, {}, t); }, "3 labels");
  test::expect_error([&] { ops::cross_entropy_tally(ctx, logits, labels, &d, {}, nullptr); },
                     "no tally");
}

}  // namespace
}  // namespace kestrel
