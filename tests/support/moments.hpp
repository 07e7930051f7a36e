#pragma once
// Sample statistics of a tensor's values in float64, for tests of initial draws.
#include <algorithm>
#include <cmath>
#include <vector>

#include "engine/tensor/tensor.hpp"

namespace kestrel::test {

struct Moments {
  double mean = 0, stddev = 0, max_abs = 0;  // stddev: the sample (n - 1) deviation
};

inline Moments moments(const Tensor& t) {
  const std::vector<float> v = t.to_vector();
  Moments m;
  for (float x : v) m.mean += x;
  m.mean /= static_cast<double>(v.size());
  for (float x : v) {
    m.stddev += (x - m.mean) * (x - m.mean);
    m.max_abs = std::max(m.max_abs, std::abs(static_cast<double>(x)));
  }
  m.stddev = std::sqrt(m.stddev / static_cast<double>(v.size() - 1));
  return m;
}

}  // namespace kestrel::test
