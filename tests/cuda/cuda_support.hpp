#pragma once
// Helpers for the CUDA-against-CPU suites: the same random inputs on both devices, outputs
// poisoned with NaN before each run so an element the kernel never wrote fails the comparison.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "engine/runtime/context.hpp"
#include "tests/support/compare.hpp"
#include "tests/support/gpu.hpp"
#include "tests/support/poison.hpp"
#include "tests/support/random.hpp"

namespace kestrel::test {

inline Device gpu0() { return Device::cuda(0); }

// The CPU result is the oracle: GPU within rtol/atol of it, element by element.
inline ::testing::AssertionResult gpu_matches_cpu(const Tensor& cpu, const Tensor& gpu, double rtol,
                                                  double atol) {
  const std::vector<float> c = cpu.to_vector();
  return all_close(std::vector<double>(c.begin(), c.end()), gpu.to_vector(), rtol, atol);
}

inline ::testing::AssertionResult gpu_equals_cpu_ints(const Tensor& cpu, const Tensor& gpu) {
  const auto c = cpu.to_int_vector(), g = gpu.to_int_vector();
  for (size_t i = 0; i < c.size(); ++i)
    if (c[i] != g[i])
      return ::testing::AssertionFailure() << "index " << i << ": cpu " << c[i] << ", gpu " << g[i];
  return ::testing::AssertionSuccess();
}

}  // namespace kestrel::test

namespace kestrel::test {

// "8x1x28x28": a shape as part of a parameterised test's name, so that a GPU log names the case
// that failed instead of printing its bytes.
inline std::string name_of(const Shape& s) {
  std::string out;
  for (int64_t i = 0; i < s.ndim(); ++i) {
    if (i > 0) out += 'x';
    out += std::to_string(s[i]);
  }
  return out;
}

// ||gpu - cpu|| / ||cpu||, the measure for TF32 results (10-bit mantissas in the products).
inline double relative_l2_error(const Tensor& cpu, const Tensor& gpu) {
  const auto c = cpu.to_vector(), g = gpu.to_vector();
  double num = 0.0, den = 0.0;
  for (size_t i = 0; i < c.size(); ++i) {
    const double d = static_cast<double>(g[i]) - c[i];
    num += d * d;
    den += static_cast<double>(c[i]) * c[i];
  }
  return std::isnan(num) ? INFINITY : std::sqrt(num / (den > 0 ? den : 1.0));
}

}  // namespace kestrel::test
