// The self-test's runner on the CPU against itself: every case passes (the cases are
// deterministic and the comparison sound), a perturbed element of one op's result is reported
// with the op, the output, its index and the error, and an op that throws is that op's error.
#include "engine/selftest/self_test.hpp"

#include <gtest/gtest.h>

#include <random>
#include <set>
#include <string>

#include "kernels/common/error.hpp"
#include "tests/support/random.hpp"

namespace kestrel::selftest {
namespace {

TEST(SelfTest, CpuAgainstCpuPassesEveryCase) {
  const Context cpu(Device::cpu());
  SelfTestOptions options;
  options.seed = test::test_seed();
  const SelfTestReport report = run_self_test(cpu, cpu, options);
  ASSERT_GE(report.results.size(), 25u);
  for (const CaseResult& r : report.results)
    EXPECT_EQ(r.verdict, Verdict::Passed) << format_result("cpu", r);
  EXPECT_TRUE(report.passed());
  EXPECT_EQ(report.failures(), 0);
}

TEST(SelfTest, CaseNamesAreUniqueAndQuickIsASubset) {
  const Context cpu(Device::cpu());
  const std::vector<Case> all = self_test_cases(cpu, false), quick = self_test_cases(cpu, true);
  std::set<std::string> names;
  for (const Case& c : all) EXPECT_TRUE(names.insert(c.name).second) << c.name;
  ASSERT_FALSE(quick.empty());
  EXPECT_LT(quick.size(), all.size());
  for (const Case& c : quick) EXPECT_TRUE(names.count(c.name)) << c.name;
}

TEST(SelfTest, PerturbedElementNamesOpOutputIndexAndError) {
  const Context cpu(Device::cpu());
  std::mt19937_64 gen(test::test_seed());
  const std::vector<Case> cases = self_test_cases(cpu, false);
  // A random case and a random element of its first output.
  const Case& victim = cases[std::uniform_int_distribution<size_t>(0, cases.size() - 1)(gen)];
  const std::vector<Output> first = victim.run(cpu, 7);
  const int64_t index = std::uniform_int_distribution<int64_t>(
      0, static_cast<int64_t>(first.front().values.size()) - 1)(gen);
  SelfTestOptions options;
  options.seed = test::test_seed();
  options.perturb_case = victim.name;
  options.perturb_index = index;
  options.perturb_by = 1000.0f;  // beyond every case's tolerance
  int seen = 0;
  const SelfTestReport report =
      run_self_test(cpu, cpu, options, [&](const CaseResult&) { ++seen; });
  EXPECT_EQ(seen, static_cast<int>(report.results.size()));
  EXPECT_FALSE(report.passed());
  EXPECT_EQ(report.failures(), 1);
  for (const CaseResult& r : report.results) {
    if (r.name != victim.name) {
      EXPECT_EQ(r.verdict, Verdict::Passed) << format_result("cpu", r);
      continue;
    }
    EXPECT_EQ(r.verdict, Verdict::Mismatch);
    const std::string line = format_result("cpu", r);
    EXPECT_NE(line.find(victim.name), std::string::npos) << line;
    EXPECT_NE(line.find("FAILED: largest error 1.00e+03 at " + first.front().name + "[" +
                        std::to_string(index) + "]"),
              std::string::npos)
        << line;
  }
}

TEST(SelfTest, ThrowingOpIsAnErrorWithItsTextAndTheNextCaseRuns) {
  const Context cpu(Device::cpu());
  const std::vector<Case> cases{
      {"broken",
       {},
       false,
       [](const Context& ctx, uint64_t) -> std::vector<Output> {
         if (ctx.device().is_cpu()) KESTREL_FAIL("cuDNN: CUDNN_STATUS_EXECUTION_FAILED");
         return {};
       }},
      {"fine", {}, false, [](const Context&, uint64_t seed) {
         return std::vector<Output>{{"y", {static_cast<float>(seed % 97)}}};
       }}};
  const SelfTestReport report = run_cases(cases, cpu, cpu, {});
  ASSERT_EQ(report.results.size(), 2u);
  EXPECT_EQ(report.results[0].verdict, Verdict::Error);
  EXPECT_NE(report.results[0].detail.find("CUDNN_STATUS_EXECUTION_FAILED"), std::string::npos)
      << report.results[0].detail;
  EXPECT_EQ(report.results[1].verdict, Verdict::Passed);
  EXPECT_NE(format_result("cpu", report.results[0]).find("ERROR:"), std::string::npos);
}

// A run that asks for bf16 tests the bf16 path (quick list plus its cases); with that path
// failing (KESTREL_FAULT_FAST_PATH=bf16's injection) and everything else passing, the run
// degrades to f32; another op failing as well stops it.
TEST(SelfTest, Bf16PathFailingAloneDegradesToF32AndAnotherFailureStops) {
  const Context cpu(Device::cpu());
  const std::vector<Case> quick = self_test_cases(cpu, true),
                          with_bf16 = self_test_cases(cpu, true, /*with_bf16=*/true);
  size_t bf16_cases = 0;
  for (const Case& c : with_bf16) bf16_cases += c.bf16_path ? 1 : 0;
  ASSERT_GE(bf16_cases, 2u);
  EXPECT_EQ(with_bf16.size(), quick.size() + bf16_cases);
  for (const Case& c : quick) EXPECT_FALSE(c.bf16_path) << c.name;

  SelfTestOptions options;
  options.seed = test::test_seed();
  options.quick_only = true;
  options.with_bf16 = true;
  EXPECT_EQ(after_self_test(run_self_test(cpu, cpu, options)), AfterSelfTest::Train);

  options.fail_bf16 = true;
  const SelfTestReport degraded = run_self_test(cpu, cpu, options);
  EXPECT_EQ(degraded.failures(), static_cast<int>(bf16_cases));
  for (const CaseResult& r : degraded.results) {
    EXPECT_EQ(r.verdict == Verdict::Error, r.bf16_path) << format_result("cpu", r);
    if (r.bf16_path) {
      EXPECT_NE(r.detail.find("KESTREL_FAULT_FAST_PATH=bf16"), std::string::npos);
    }
  }
  EXPECT_EQ(after_self_test(degraded), AfterSelfTest::TrainInF32);

  // A random f32 case perturbed as well: the f32 path is wrong too, nothing to fall back on.
  std::mt19937_64 gen(test::test_seed());
  options.perturb_case = quick[std::uniform_int_distribution<size_t>(0, quick.size() - 1)(gen)].name;
  options.perturb_by = 1000.0f;
  EXPECT_EQ(after_self_test(run_self_test(cpu, cpu, options)), AfterSelfTest::Stop);
}

// An output the op never wrote stays NaN (the cases poison their buffers) and fails.
TEST(SelfTest, UnwrittenOutputFails) {
  const Context cpu(Device::cpu());
  std::mt19937_64 gen(test::test_seed());
  const size_t n = 40, missed = std::uniform_int_distribution<size_t>(0, n - 1)(gen);
  int call = 0;
  const std::vector<Case> cases{{"half-written", {}, false, [&](const Context& ctx, uint64_t) {
                                   Tensor y = poisoned(ctx, Shape{static_cast<int64_t>(n)});
                                   std::vector<float> v = y.to_vector();
                                   for (size_t i = 0; i < n; ++i)
                                     if (call == 0 || i != missed) v[i] = 1.0f;
                                   ++call;
                                   return std::vector<Output>{{"y", v}};
                                 }}};
  const SelfTestReport report = run_cases(cases, cpu, cpu, {});
  ASSERT_EQ(report.results.size(), 1u);
  EXPECT_EQ(report.results[0].verdict, Verdict::Mismatch);
  EXPECT_NE(report.results[0].detail.find("at y[" + std::to_string(missed) + "]"),
            std::string::npos)
      << report.results[0].detail;
}

}  // namespace
}  // namespace kestrel::selftest
