#include "tests/support/gradcheck.hpp"

#include <stdexcept>

namespace kestrel::test {

namespace {
double contract(const std::vector<double>& y, const std::vector<double>& r) {
  if (y.size() != r.size()) throw std::invalid_argument("numeric_gradient: r has the wrong size");
  double s = 0.0;
  for (size_t j = 0; j < y.size(); ++j) s += y[j] * r[j];
  return s;
}
}  // namespace

std::vector<double> numeric_gradient(const Forward64& f, std::vector<double> x,
                                     const std::vector<double>& r, double eps) {
  std::vector<double> grad(x.size());
  for (size_t i = 0; i < x.size(); ++i) {
    const double saved = x[i];
    x[i] = saved + eps;
    const double plus = contract(f(x), r);
    x[i] = saved - eps;
    const double minus = contract(f(x), r);
    x[i] = saved;
    grad[i] = (plus - minus) / (2.0 * eps);
  }
  return grad;
}

}  // namespace kestrel::test
