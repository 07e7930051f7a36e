#include "tests/support/compare.hpp"

#include <cstring>

namespace kestrel::test {

::testing::AssertionResult all_close(const std::vector<double>& expected,
                                     const std::vector<float>& actual, double rtol, double atol) {
  if (expected.size() != actual.size())
    return ::testing::AssertionFailure()
           << "size mismatch: expected " << expected.size() << " got " << actual.size();
  size_t worst = 0, bad = 0;
  double worst_excess = -1.0;
  for (size_t i = 0; i < expected.size(); ++i) {
    const double a = actual[i];
    const double tol = atol + rtol * std::abs(expected[i]);
    const double err = std::abs(a - expected[i]);
    if (!(err <= tol)) {  // also catches NaN
      ++bad;
      const double excess = std::isnan(err) ? 1e300 : err - tol;
      if (excess > worst_excess) worst_excess = excess, worst = i;
    }
  }
  if (bad == 0) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure()
         << bad << " of " << expected.size() << " elements differ; worst at " << worst
         << ": expected " << expected[worst] << ", got " << actual[worst] << " (rtol " << rtol
         << ", atol " << atol << ")";
}

::testing::AssertionResult all_close(const std::vector<double>& expected, const Tensor& actual,
                                     double rtol, double atol) {
  return all_close(expected, actual.to_vector(), rtol, atol);
}

::testing::AssertionResult same_bits(const std::vector<float>& expected,
                                     const std::vector<float>& actual) {
  if (expected.size() != actual.size())
    return ::testing::AssertionFailure()
           << "size mismatch: expected " << expected.size() << " got " << actual.size();
  for (size_t i = 0; i < expected.size(); ++i)
    if (std::memcmp(&expected[i], &actual[i], sizeof(float)) != 0)
      return ::testing::AssertionFailure() << "element " << i << " of " << expected.size()
                                           << ": expected " << expected[i] << ", got " << actual[i];
  return ::testing::AssertionSuccess();
}

::testing::AssertionResult same_bits(const Tensor& expected, const Tensor& actual) {
  if (expected.shape() != actual.shape())
    return ::testing::AssertionFailure()
           << "shape " << actual.shape().str() << ", expected " << expected.shape().str();
  return same_bits(expected.to_vector(), actual.to_vector());
}

}  // namespace kestrel::test
