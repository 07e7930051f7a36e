#pragma once
// Central-difference gradients in float64, the oracle for every backward pass (after Caffe's
// GradientChecker). The checked op's backward runs in f32 with grad_output = r; the oracle
// differentiates L(x) = sum_j r_j * f(x)_j, where f is the test's own float64 reference
// forward, so the backward is never checked against code it shares.
#include <functional>
#include <vector>

namespace kestrel::test {

using Forward64 = std::function<std::vector<double>(const std::vector<double>&)>;

// dL/dx_i = (L(x + eps e_i) - L(x - eps e_i)) / (2 eps) for every i.
std::vector<double> numeric_gradient(const Forward64& f, std::vector<double> x,
                                     const std::vector<double>& r, double eps = 1e-6);

}  // namespace kestrel::test
