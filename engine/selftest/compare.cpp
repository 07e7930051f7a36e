#include "engine/selftest/compare.hpp"

#include <fmt/format.h>

#include <cmath>
#include <limits>

namespace kestrel::selftest {

Comparison compare(std::span<const float> expected, std::span<const float> actual,
                   const Tolerance& tolerance) {
  Comparison c;
  if (expected.size() != actual.size()) {
    c.passed = false;
    c.problem = fmt::format("{} values, the reference has {}", actual.size(), expected.size());
    return c;
  }
  c.count = static_cast<int64_t>(expected.size());
  constexpr double kInf = std::numeric_limits<double>::infinity();
  double worst_ratio = -1.0;  // (error / bound) of the worst failing element
  for (size_t i = 0; i < expected.size(); ++i) {
    const double e = expected[i], a = actual[i];
    // Equal values (infinities included) and NaN against NaN agree; any other non-finite
    // pair is an infinite error.
    double error = kInf;
    if (a == e || (std::isnan(e) && std::isnan(a)))
      error = 0.0;
    else if (std::isfinite(a) && std::isfinite(e))
      error = std::fabs(a - e);
    // A non-finite reference allows no error (its relative bound would be infinite).
    const double bound = std::isfinite(e) ? tolerance.atol + tolerance.rtol * std::fabs(e) : 0.0;
    const bool fails = error > bound;
    const double ratio = fails ? (bound > 0.0 ? error / bound : kInf) : 0.0;
    if (fails) ++c.failures;
    // Pass: remember the largest error. Failure: the worst miss (the first of equal ones).
    const bool take = fails ? (c.failures == 1 || ratio > worst_ratio)
                            : (c.failures == 0 && (c.index < 0 || error > c.error));
    if (take) {
      if (fails) worst_ratio = ratio;
      c.index = static_cast<int64_t>(i);
      c.error = error;
      c.expected = e;
      c.actual = a;
    }
  }
  c.passed = c.failures == 0;
  return c;
}

std::string describe(const Comparison& c, const std::string& output, const Tolerance& tolerance) {
  if (!c.problem.empty()) return fmt::format("{}: {}", output, c.problem);
  if (c.passed) return fmt::format("max error {:.1e}", c.index < 0 ? 0.0 : c.error);
  return fmt::format(
      "largest error {:.2e} at {}[{}] of {} (expected {:.6g}, got {:.6g}; {} element{} outside "
      "{:.0e} + {:.0e}*|expected|)",
      c.error, output, c.index, c.count, c.expected, c.actual, c.failures,
      c.failures == 1 ? "" : "s", tolerance.atol, tolerance.rtol);
}

}  // namespace kestrel::selftest
