// argmax and top-1 / top-k correct counts against plain reference loops, on random logits and
// on coarse logits where ties are common.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <ostream>

#include "engine/ops/classification.hpp"
#include "kernels/cpu/parallel.hpp"
#include "tests/support/errors.hpp"
#include "tests/support/random.hpp"

namespace kestrel {
namespace {

// First index of the row maximum (torch.argmax), NaN counting as the maximum.
int32_t argmax_reference(const float* z, int64_t classes) {
  for (int64_t j = 0; j < classes; ++j)
    if (std::isnan(z[j])) return static_cast<int32_t>(j);
  int64_t best = 0;
  for (int64_t j = 1; j < classes; ++j)
    if (z[j] > z[best]) best = j;
  return static_cast<int32_t>(best);
}

// Correct iff fewer than k logits are strictly greater than the label's.
bool topk_reference(const float* z, int64_t classes, int32_t label, int k) {
  int64_t greater = 0;
  for (int64_t j = 0; j < classes; ++j) greater += z[j] > z[label] ? 1 : 0;
  return greater < k;
}

struct Problem {
  int64_t n, classes;
  bool coarse;  // small integer logits, so that ties are common
};
void PrintTo(const Problem& p, std::ostream* os) {
  *os << "N" << p.n << "_C" << p.classes << (p.coarse ? "_ties" : "");
}

Tensor make_logits(const Problem& p, std::mt19937_64& gen) {
  Tensor t = test::random_tensor(Shape{p.n, p.classes}, gen, -3.0f, 3.0f);
  if (p.coarse)
    for (int64_t i = 0; i < t.numel(); ++i) t.data<float>()[i] = std::round(t.data<float>()[i]);
  return t;
}

class ClassificationTest : public ::testing::TestWithParam<Problem> {};

TEST_P(ClassificationTest, ArgmaxMatchesReference) {
  std::mt19937_64 gen(test::test_seed());
  Context ctx;
  const Problem p = GetParam();
  const Tensor logits = make_logits(p, gen);
  Tensor out = Tensor::empty(Shape{p.n}, DType::I32);
  ops::argmax_rows(ctx, logits, out);
  const float* z = logits.data<float>();
  for (int64_t r = 0; r < p.n; ++r)
    ASSERT_EQ(out.data<int32_t>()[r], argmax_reference(z + r * p.classes, p.classes))
        << "row " << r;
}

TEST_P(ClassificationTest, CountCorrectMatchesReference) {
  std::mt19937_64 gen(test::test_seed() + 1);
  Context ctx;
  const Problem p = GetParam();
  const Tensor logits = make_logits(p, gen);
  Tensor labels = test::random_labels(p.n, static_cast<int32_t>(p.classes), gen);
  // Make about half the rows right so that both outcomes occur.
  const float* z = logits.data<float>();
  for (int64_t r = 0; r < p.n; r += 2)
    labels.data<int32_t>()[r] = argmax_reference(z + r * p.classes, p.classes);
  int64_t expected = 0;
  for (int64_t r = 0; r < p.n; ++r)
    expected += argmax_reference(z + r * p.classes, p.classes) == labels.data<int32_t>()[r];
  EXPECT_EQ(ops::count_correct(ctx, logits, labels), expected);
}

TEST_P(ClassificationTest, CountCorrectTopkMatchesReference) {
  std::mt19937_64 gen(test::test_seed() + 2);
  Context ctx;
  const Problem p = GetParam();
  const Tensor logits = make_logits(p, gen);
  const Tensor labels = test::random_labels(p.n, static_cast<int32_t>(p.classes), gen);
  const float* z = logits.data<float>();
  // Every k up to 10, then a few up to C.
  std::vector<int> ks;
  const int classes = static_cast<int>(p.classes);
  for (int k = 1; k <= std::min(classes, 10); ++k) ks.push_back(k);
  for (int k : {classes / 2, classes - 1, classes})
    if (k > ks.back()) ks.push_back(k);
  int64_t previous = -1;
  for (int k : ks) {
    int64_t expected = 0;
    for (int64_t r = 0; r < p.n; ++r)
      expected += topk_reference(z + r * p.classes, p.classes, labels.data<int32_t>()[r], k);
    const int64_t got = ops::count_correct_topk(ctx, logits, labels, k);
    EXPECT_EQ(got, expected) << "k = " << k;
    EXPECT_GE(got, previous) << "k = " << k;  // more guesses never hurt
    previous = got;
  }
  EXPECT_EQ(previous, p.n);  // k = C: every label is among all classes
}

INSTANTIATE_TEST_SUITE_P(Shapes, ClassificationTest,
                         ::testing::Values(Problem{1, 1, false}, Problem{1, 10, false},
                                           Problem{7, 3, true}, Problem{64, 10, false},
                                           Problem{64, 10, true}, Problem{33, 1000, false}));

TEST(Classification, TiesGoToTheFirstMaximum) {
  Context ctx;
  const float nan = std::numeric_limits<float>::quiet_NaN();
  const std::vector<float> z{1, 5, 5, 2,     // tie: index 1
                             7, 7, 7, 7,     // all equal: index 0
                             0, 1, nan, 9,   // NaN wins (torch.argmax)
                             -3, -2, -1, -1};
  const Tensor logits = Tensor::from_vector(Shape{4, 4}, z);
  Tensor out = Tensor::empty(Shape{4}, DType::I32);
  ops::argmax_rows(ctx, logits, out);
  EXPECT_EQ(out.to_int_vector(), (std::vector<int32_t>{1, 0, 2, 2}));

  // Label 2 ties with the first maximum of row 0: wrong for top-1 (argmax is 1) but inside
  // the top 1 by the "fewer than k strictly greater" rule.
  const std::vector<int32_t> label{2, 0, 2, 3};
  const Tensor labels = Tensor::from_vector(Shape{4}, label);
  EXPECT_EQ(ops::count_correct(ctx, logits, labels), 2);  // rows 1 and 2
  EXPECT_EQ(ops::count_correct_topk(ctx, logits, labels, 1), 4);
}

TEST(Classification, TopkCountsLabelsAmongTheLargest) {
  Context ctx;
  const std::vector<float> z{0.1f, 0.9f, 0.5f, 0.3f,   // label 2 is second
                             0.8f, 0.1f, 0.2f, 0.7f};  // label 1 is last
  const std::vector<int32_t> label{2, 1};
  const Tensor logits = Tensor::from_vector(Shape{2, 4}, z);
  const Tensor labels = Tensor::from_vector(Shape{2}, label);
  EXPECT_EQ(ops::count_correct_topk(ctx, logits, labels, 1), 0);
  EXPECT_EQ(ops::count_correct_topk(ctx, logits, labels, 2), 1);
  EXPECT_EQ(ops::count_correct_topk(ctx, logits, labels, 3), 1);
  EXPECT_EQ(ops::count_correct_topk(ctx, logits, labels, 4), 2);
}

TEST(Classification, BitwiseEqualAcrossThreadCounts) {
  std::mt19937_64 gen(test::test_seed() + 3);
  Context ctx;
  const Tensor logits = make_logits(Problem{500, 10, true}, gen);
  const Tensor labels = test::random_labels(500, 10, gen);
  Tensor out[2];
  int64_t top1[2], top3[2];
  for (int t = 0; t < 2; ++t) {
    cpu::set_num_threads(t + 1);
    out[t] = Tensor::empty(Shape{500}, DType::I32);
    ops::argmax_rows(ctx, logits, out[t]);
    top1[t] = ops::count_correct(ctx, logits, labels);
    top3[t] = ops::count_correct_topk(ctx, logits, labels, 3);
  }
  cpu::set_num_threads(0);
  EXPECT_EQ(std::memcmp(out[0].raw_data(), out[1].raw_data(), out[0].nbytes()), 0);
  EXPECT_EQ(top1[0], top1[1]);
  EXPECT_EQ(top3[0], top3[1]);
}

using test::expect_error;

TEST(Classification, BadArgumentsAreErrors) {
  Context ctx;
  const Tensor logits = Tensor::zeros(Shape{4, 10});
  const Tensor labels = Tensor::zeros(Shape{4}, DType::I32);
  Tensor out_f32 = Tensor::zeros(Shape{4}), out_short = Tensor::zeros(Shape{3}, DType::I32);
  expect_error([&] { ops::argmax_rows(ctx, logits, out_f32); },
               "argmax_rows: output must be i32, got f32[4] on cpu");
  expect_error([&] { ops::argmax_rows(ctx, logits, out_short); },
               "argmax_rows: output has shape [3], expected [4]");
  expect_error([&] { ops::count_correct_topk(ctx, logits, labels, 0); },
               "count_correct_topk: k = 0 must be in [1, 10] for logits [4, 10]");
  expect_error([&] { ops::count_correct_topk(ctx, logits, labels, 11); },
               "count_correct_topk: k = 11 must be in [1, 10] for logits [4, 10]");
  const Tensor three = Tensor::zeros(Shape{3}, DType::I32);
  expect_error([&] { ops::count_correct(ctx, logits, three); },
               "count_correct: 3 labels for 4 rows of logits (labels [3], logits [4, 10])");
  const std::vector<int32_t> bad{0, 1, 2, 12};
  expect_error(
      [&] { ops::count_correct_topk(ctx, logits, Tensor::from_vector(Shape{4}, bad), 2); },
      "count_correct_topk: label 12 in row 3 is out of range [0, 10)");
  const Tensor no_classes = Tensor::zeros(Shape{4, 0});
  Tensor out = Tensor::zeros(Shape{4}, DType::I32);
  expect_error([&] { ops::argmax_rows(ctx, no_classes, out); },
               "argmax_rows: logits [4, 0] have no classes");
}

}  // namespace
}  // namespace kestrel
