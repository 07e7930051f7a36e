#pragma once
// The self-test's verdict on one result: a device's values against the reference backend's,
// element by element. Plain host arithmetic, no backend: the CPU tests it on its own.
#include <cstdint>
#include <span>
#include <string>

namespace kestrel::selftest {

// An element passes when |actual - expected| <= atol + rtol * |expected|.
struct Tolerance {
  double rtol = 1e-4;
  double atol = 1e-5;
};

struct Comparison {
  bool passed = true;
  std::string problem;  // set when the two results cannot be compared (sizes differ)
  // The element that misses its bound by the largest factor, or on a pass the largest absolute
  // error; -1 for empty results. A NaN or infinity where the reference is finite is the worst.
  int64_t index = -1;
  double error = 0.0;  // |actual - expected| there (infinity for a non-finite actual)
  double expected = 0.0, actual = 0.0;
  int64_t count = 0;     // elements compared
  int64_t failures = 0;  // elements outside the tolerance
};

Comparison compare(std::span<const float> expected, std::span<const float> actual,
                   const Tolerance& tolerance);

// "largest error 1.2e-03 at dw[17] of 96 (expected 0.5, got 0.5012; 3 elements outside
// 1e-04 + 1e-04*|expected|)", or "max error 3.1e-07" for a pass.
std::string describe(const Comparison& c, const std::string& output, const Tolerance& tolerance);

}  // namespace kestrel::selftest
