#include "apps/commands/self_test.hpp"

#include <fmt/format.h>

#include <charconv>
#include <cstdlib>
#include <string>

#include "engine/runtime/context.hpp"
#include "kernels/common/error.hpp"

namespace kestrel::apps {

selftest::SelfTestOptions self_test_options_from_environment() {
  selftest::SelfTestOptions o;
  if (const char* name = std::getenv("KESTREL_SELF_TEST_PERTURB")) o.perturb_case = name;
  if (const char* path = std::getenv("KESTREL_FAULT_FAST_PATH"))
    o.fail_bf16 = std::string(path) == "bf16";
  if (const char* index = std::getenv("KESTREL_SELF_TEST_PERTURB_INDEX")) {
    const std::string text = index;
    const auto [end, error] =
        std::from_chars(text.data(), text.data() + text.size(), o.perturb_index);
    KESTREL_CHECK(error == std::errc() && end == text.data() + text.size() && o.perturb_index >= 0,
                  "KESTREL_SELF_TEST_PERTURB_INDEX='{}' is not an element index", text);
  }
  return o;
}

selftest::SelfTestReport run_device_self_test(Device device, const selftest::SelfTestOptions& options, bool all_lines,
                          std::FILE* out) {
  const Context target(device), reference(Device::cpu());
  const std::string name = device.str();
  const selftest::SelfTestReport report =
      selftest::run_self_test(target, reference, options, [&](const selftest::CaseResult& r) {
        if (all_lines || r.verdict != selftest::Verdict::Passed) {
          fmt::print(out, "{}\n", selftest::format_result(name, r));
          std::fflush(out);
        }
      });
  const size_t total = report.results.size();
  if (report.passed())
    fmt::print(out, "{:<7} self-test passed: {} ops agree with the CPU ({:.1f} s)\n", name, total,
               report.seconds);
  else
    fmt::print(out,
               "{:<7} self-test FAILED: {} of {} ops disagree with the CPU or failed ({:.1f} s)\n",
               name, report.failures(), total, report.seconds);
  std::fflush(out);
  return report;
}

}  // namespace kestrel::apps
