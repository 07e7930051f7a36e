// The self-test's element comparison, on values with a known answer: which element it blames,
// the error it reports there, and non-finite values.
#include "engine/selftest/compare.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <random>
#include <vector>

#include "tests/support/random.hpp"

namespace kestrel::selftest {
namespace {

std::vector<float> random_values(size_t n, std::mt19937_64& gen) {
  std::uniform_real_distribution<float> d(-1.0f, 1.0f);
  std::vector<float> v(n);
  for (float& x : v) x = d(gen);
  return v;
}

TEST(SelfTestCompare, EqualResultsPass) {
  std::mt19937_64 gen(test::test_seed());
  const std::vector<float> v = random_values(257, gen);
  const Comparison c = compare(v, v, {});
  EXPECT_TRUE(c.passed);
  EXPECT_EQ(c.failures, 0);
  EXPECT_EQ(c.count, 257);
  EXPECT_EQ(c.error, 0.0);
}

TEST(SelfTestCompare, NamesTheWorstElementAndItsError) {
  std::mt19937_64 gen(test::test_seed());
  const std::vector<float> expected = random_values(300, gen);
  std::vector<float> actual = expected;
  const size_t small = std::uniform_int_distribution<size_t>(0, 149)(gen);
  const size_t large = std::uniform_int_distribution<size_t>(150, 299)(gen);
  actual[small] += 0.01f;
  actual[large] += 0.5f;
  const Comparison c = compare(expected, actual, {.rtol = 1e-4, .atol = 1e-5});
  EXPECT_FALSE(c.passed);
  EXPECT_EQ(c.failures, 2);
  EXPECT_EQ(c.index, static_cast<int64_t>(large));
  EXPECT_NEAR(c.error, 0.5, 1e-6);
  EXPECT_EQ(c.expected, expected[large]);
  EXPECT_EQ(c.actual, actual[large]);
  const std::string text = describe(c, "dw", {.rtol = 1e-4, .atol = 1e-5});
  EXPECT_NE(text.find("at dw[" + std::to_string(large) + "] of 300"), std::string::npos) << text;
  EXPECT_NE(text.find("largest error 5.00e-01"), std::string::npos) << text;
}

TEST(SelfTestCompare, PassReportsTheLargestErrorWithinTolerance) {
  std::mt19937_64 gen(test::test_seed());
  const std::vector<float> expected = random_values(64, gen);
  std::vector<float> actual = expected;
  actual[7] += 1e-6f;
  const Comparison c = compare(expected, actual, {.rtol = 0.0, .atol = 1e-5});
  EXPECT_TRUE(c.passed);
  EXPECT_EQ(c.index, 7);
  EXPECT_NEAR(c.error, 1e-6, 1e-7);
}

TEST(SelfTestCompare, NonFiniteActualIsTheWorst) {
  std::mt19937_64 gen(test::test_seed());
  const std::vector<float> expected = random_values(50, gen);
  std::vector<float> actual = expected;
  actual[3] += 100.0f;
  actual[41] = std::numeric_limits<float>::quiet_NaN();
  const Comparison c = compare(expected, actual, {});
  EXPECT_FALSE(c.passed);
  EXPECT_EQ(c.index, 41);
  EXPECT_TRUE(std::isinf(c.error));
  EXPECT_EQ(c.failures, 2);
}

TEST(SelfTestCompare, AgreeingInfinitiesAndNaNsPass) {
  const float inf = std::numeric_limits<float>::infinity(),
              nan = std::numeric_limits<float>::quiet_NaN();
  const std::vector<float> v{1.0f, inf, -inf, nan};
  EXPECT_TRUE(compare(v, v, {}).passed);
  const std::vector<float> flipped{1.0f, -inf, -inf, nan};
  const Comparison c = compare(v, flipped, {});
  EXPECT_FALSE(c.passed);
  EXPECT_EQ(c.index, 1);
}

TEST(SelfTestCompare, DifferentSizesAreAProblem) {
  const std::vector<float> a(4, 1.0f), b(5, 1.0f);
  const Comparison c = compare(a, b, {});
  EXPECT_FALSE(c.passed);
  EXPECT_EQ(describe(c, "y", {}), "y: 5 values, the reference has 4");
}

}  // namespace
}  // namespace kestrel::selftest
