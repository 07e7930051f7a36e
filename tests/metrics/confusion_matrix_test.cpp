// Confusion-matrix metrics against a worked example and against brute-force counting.
#include "engine/metrics/confusion_matrix.hpp"

#include <gtest/gtest.h>

#include <random>

#include "kernels/common/error.hpp"
#include "tests/support/random.hpp"

namespace kestrel::metrics {
namespace {

TEST(ConfusionMatrix, WorkedThreeClassExample) {
  // true:      0 0 0 0 1 1 1 2 2 2
  // predicted: 0 0 1 2 1 1 0 2 2 1
  const int32_t labels[] = {0, 0, 0, 0, 1, 1, 1, 2, 2, 2};
  const int32_t pred[] = {0, 0, 1, 2, 1, 1, 0, 2, 2, 1};
  ConfusionMatrix m(3);
  m.add(labels, pred, 10);
  EXPECT_EQ(m.count(0, 0), 2);
  EXPECT_EQ(m.count(0, 1), 1);
  EXPECT_EQ(m.count(1, 0), 1);
  EXPECT_EQ(m.count(2, 1), 1);
  EXPECT_EQ(m.correct(), 6);
  EXPECT_DOUBLE_EQ(m.accuracy(), 0.6);
  const auto s = m.per_class();
  // class 0: tp 2, predicted 3, actual 4; class 1: tp 2, predicted 4, actual 3;
  // class 2: tp 2, predicted 3, actual 3.
  EXPECT_DOUBLE_EQ(s[0].precision, 2.0 / 3);
  EXPECT_DOUBLE_EQ(s[0].recall, 0.5);
  EXPECT_DOUBLE_EQ(s[0].f1, 2 * (2.0 / 3) * 0.5 / (2.0 / 3 + 0.5));
  EXPECT_DOUBLE_EQ(s[1].precision, 0.5);
  EXPECT_DOUBLE_EQ(s[1].recall, 2.0 / 3);
  EXPECT_DOUBLE_EQ(s[2].precision, 2.0 / 3);
  EXPECT_DOUBLE_EQ(s[2].recall, 2.0 / 3);
  EXPECT_EQ(s[0].support, 4);
  EXPECT_DOUBLE_EQ(m.macro_f1(), (s[0].f1 + s[1].f1 + s[2].f1) / 3);
}

TEST(ConfusionMatrix, ClassNeverPredictedHasZeroPrecision) {
  const int32_t labels[] = {0, 1, 2};
  const int32_t pred[] = {0, 0, 0};
  ConfusionMatrix m(3);
  m.add(labels, pred, 3);
  const auto s = m.per_class();
  EXPECT_DOUBLE_EQ(s[1].precision, 0.0);
  EXPECT_DOUBLE_EQ(s[1].recall, 0.0);
  EXPECT_DOUBLE_EQ(s[1].f1, 0.0);
  EXPECT_DOUBLE_EQ(s[0].precision, 1.0 / 3);
  EXPECT_DOUBLE_EQ(m.macro_f1(), (2 * (1.0 / 3) * 1.0 / (1.0 / 3 + 1.0)) / 3);
}

TEST(ConfusionMatrix, RandomPairsMatchBruteForceAndMergeAdds) {
  std::mt19937_64 gen(test::test_seed());
  std::uniform_int_distribution<int32_t> cls(0, 9);
  std::vector<int32_t> labels(5000), pred(5000);
  for (size_t i = 0; i < labels.size(); ++i) labels[i] = cls(gen), pred[i] = cls(gen);
  ConfusionMatrix whole(10), a(10), b(10);
  whole.add(labels.data(), pred.data(), 5000);
  a.add(labels.data(), pred.data(), 2000);
  b.add(labels.data() + 2000, pred.data() + 2000, 3000);
  a.merge(b);
  EXPECT_EQ(a.counts(), whole.counts());
  for (int t = 0; t < 10; ++t)
    for (int p = 0; p < 10; ++p) {
      int64_t n = 0;
      for (size_t i = 0; i < labels.size(); ++i) n += labels[i] == t && pred[i] == p;
      ASSERT_EQ(whole.count(t, p), n);
    }
  int64_t right = 0;
  for (size_t i = 0; i < labels.size(); ++i) right += labels[i] == pred[i];
  EXPECT_EQ(whole.correct(), right);
  EXPECT_EQ(whole.total(), 5000);
}

TEST(ConfusionMatrix, OutOfRangePairsAreErrors) {
  ConfusionMatrix m(10);
  const int32_t labels[] = {3, 10};
  const int32_t pred[] = {3, 1};
  try {
    m.add(labels, pred, 2);
    FAIL() << "expected kestrel::Error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("pair 1 (true 10, predicted 1)"), std::string::npos)
        << e.what();
  }
  EXPECT_THROW(ConfusionMatrix(0), Error);
  EXPECT_THROW(m.merge(ConfusionMatrix(3)), Error);
}

}  // namespace
}  // namespace kestrel::metrics
