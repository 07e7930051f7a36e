#pragma once
// Comparing kestrel's f32 results with float64 references.
#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

#include "engine/tensor/tensor.hpp"
#include "tests/support/printers.hpp"

namespace kestrel::test {

// Every element within atol + rtol * |expected|; reports the worst element.
::testing::AssertionResult all_close(const std::vector<double>& expected, const Tensor& actual,
                                     double rtol, double atol);
::testing::AssertionResult all_close(const std::vector<double>& expected,
                                     const std::vector<float>& actual, double rtol, double atol);

// The same f32 bits in every element (any devices; NaN equals NaN of the same bits); reports the
// first element that differs.
::testing::AssertionResult same_bits(const Tensor& expected, const Tensor& actual);
::testing::AssertionResult same_bits(const std::vector<float>& expected,
                                     const std::vector<float>& actual);

}  // namespace kestrel::test
