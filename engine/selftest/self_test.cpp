#include "engine/selftest/self_test.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <exception>

#include "kernels/common/error.hpp"

namespace kestrel::selftest {

namespace {

// The text of what a run threw: kestrel's one-line message, or the exception's.
std::string error_text(const std::exception& e) {
  if (const auto* k = dynamic_cast<const Error*>(&e))
    return k->message().empty() ? k->what() : k->message();
  return e.what();
}

CaseResult run_case(const Case& c, const Context& target, const Context& reference,
                    const SelfTestOptions& options, uint64_t seed) {
  CaseResult result{c.name, Verdict::Passed, {}};
  std::vector<Output> expected, actual;
  try {
    expected = c.run(reference, seed);
  } catch (const std::exception& e) {
    return {c.name, Verdict::Error,
            "on the reference " + reference.device().str() + ": " + error_text(e)};
  }
  if (c.bf16_path && options.fail_bf16)
    return {c.name, Verdict::Error, "bf16 path failed on purpose (KESTREL_FAULT_FAST_PATH=bf16)"};
  try {
    actual = c.run(target, seed);
  } catch (const std::exception& e) {
    return {c.name, Verdict::Error, error_text(e)};
  }
  if (c.name == options.perturb_case && !actual.empty()) {
    std::vector<float>& v = actual.front().values;
    if (options.perturb_index >= 0 && options.perturb_index < static_cast<int64_t>(v.size()))
      v[static_cast<size_t>(options.perturb_index)] += options.perturb_by;
  }
  if (expected.size() != actual.size())
    return {c.name, Verdict::Error,
            fmt::format("{} outputs, the reference {}", actual.size(), expected.size())};
  // Passed: the largest error over every output; failed: the first output that fails.
  double largest = 0.0;
  for (size_t i = 0; i < expected.size(); ++i) {
    const Comparison cmp = compare(expected[i].values, actual[i].values, c.tolerance);
    if (!cmp.passed) return {c.name, Verdict::Mismatch, describe(cmp, actual[i].name, c.tolerance)};
    largest = std::max(largest, cmp.error);
  }
  result.detail = fmt::format("max error {:.1e}", largest);
  return result;
}

}  // namespace

bool SelfTestReport::passed() const { return failures() == 0; }

int SelfTestReport::failures() const {
  return static_cast<int>(std::count_if(results.begin(), results.end(), [](const CaseResult& r) {
    return r.verdict != Verdict::Passed;
  }));
}

AfterSelfTest after_self_test(const SelfTestReport& report) {
  if (report.passed()) return AfterSelfTest::Train;
  const bool only_bf16 =
      std::all_of(report.results.begin(), report.results.end(), [](const CaseResult& r) {
        return r.verdict == Verdict::Passed || r.bf16_path;
      });
  return only_bf16 ? AfterSelfTest::TrainInF32 : AfterSelfTest::Stop;
}

std::vector<Case> self_test_cases(const Context& target, bool quick_only, bool with_bf16) {
  std::vector<Case> all;
  for (auto family : {convolution_cases(), product_cases(), pooling_and_loss_cases(),
                      optimizer_and_reduction_cases(), normalization_and_activation_cases(),
                      bf16_cases(), runtime_cases(target)})
    for (Case& c : family)
      if (c.quick || !quick_only || (with_bf16 && c.bf16_path)) all.push_back(std::move(c));
  return all;
}

SelfTestReport run_self_test(const Context& target, const Context& reference,
                             const SelfTestOptions& options,
                             const std::function<void(const CaseResult&)>& on_result) {
  return run_cases(self_test_cases(target, options.quick_only, options.with_bf16), target,
                   reference, options,
                   on_result);
}

SelfTestReport run_cases(const std::vector<Case>& cases, const Context& target,
                         const Context& reference, const SelfTestOptions& options,
                         const std::function<void(const CaseResult&)>& on_result) {
  const auto start = std::chrono::steady_clock::now();
  SelfTestReport report;
  for (size_t i = 0; i < cases.size(); ++i) {
    // Each case its own inputs, the same on both contexts.
    const uint64_t seed = options.seed * 1000003u + i;
    report.results.push_back(run_case(cases[i], target, reference, options, seed));
    report.results.back().bf16_path = cases[i].bf16_path;
    if (on_result) on_result(report.results.back());
  }
  report.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return report;
}

std::string format_result(const std::string& device, const CaseResult& r) {
  const char* verdict = r.verdict == Verdict::Passed     ? "passed"
                        : r.verdict == Verdict::Mismatch ? "FAILED:"
                                                         : "ERROR:";
  return r.verdict == Verdict::Passed
             ? fmt::format("{:<7} {:<50} passed ({})", device, r.name, r.detail)
             : fmt::format("{:<7} {:<50} {} {}", device, r.name, verdict, r.detail);
}

}  // namespace kestrel::selftest
