#include "engine/init/symmetric_eigen.hpp"

#include <algorithm>
#include <cmath>
#include <numeric>

#include "kernels/common/error.hpp"

namespace kestrel::init {

SymmetricEigen symmetric_eigen(const std::vector<double>& a_in, int64_t n) {
  KESTREL_CHECK(n >= 1 && static_cast<int64_t>(a_in.size()) == n * n,
                "symmetric_eigen: {} entries for a {}x{} matrix", a_in.size(), n, n);
  std::vector<double> a(static_cast<size_t>(n * n));
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = i; j < n; ++j) {
      const double v = a_in[static_cast<size_t>(i * n + j)];
      KESTREL_CHECK(std::isfinite(v), "symmetric_eigen: entry ({}, {}) is {}", i, j, v);
      a[static_cast<size_t>(i * n + j)] = a[static_cast<size_t>(j * n + i)] = v;
    }
  std::vector<double> v(static_cast<size_t>(n * n), 0.0);
  for (int64_t i = 0; i < n; ++i) v[static_cast<size_t>(i * n + i)] = 1.0;
  const auto at = [n](std::vector<double>& m, int64_t i, int64_t j) -> double& {
    return m[static_cast<size_t>(i * n + j)];
  };

  // Sweeps of rotations that zero each off-diagonal entry in turn (Golub & Van Loan's cyclic
  // Jacobi, with Rutishauser's stable rotation angles); quadratic convergence means a handful
  // of sweeps reach rounding level. 100 sweeps is a bound that is never met in practice.
  for (int sweep = 0; sweep < 100; ++sweep) {
    double off = 0.0, diag = 0.0;
    for (int64_t i = 0; i < n; ++i) {
      diag += at(a, i, i) * at(a, i, i);
      for (int64_t j = i + 1; j < n; ++j) off += at(a, i, j) * at(a, i, j);
    }
    if (off <= 1e-30 * diag || off == 0.0) break;
    for (int64_t p = 0; p < n; ++p)
      for (int64_t q = p + 1; q < n; ++q) {
        const double apq = at(a, p, q);
        if (apq == 0.0) continue;
        const double theta = (at(a, q, q) - at(a, p, p)) / (2.0 * apq);
        const double t = (theta >= 0 ? 1.0 : -1.0) / (std::fabs(theta) + std::sqrt(theta * theta + 1.0));
        const double c = 1.0 / std::sqrt(t * t + 1.0), s = t * c;
        for (int64_t k = 0; k < n; ++k) {  // A <- A J (columns p, q)
          const double akp = at(a, k, p), akq = at(a, k, q);
          at(a, k, p) = c * akp - s * akq;
          at(a, k, q) = s * akp + c * akq;
        }
        for (int64_t k = 0; k < n; ++k) {  // A <- J^T A (rows p, q)
          const double apk = at(a, p, k), aqk = at(a, q, k);
          at(a, p, k) = c * apk - s * aqk;
          at(a, q, k) = s * apk + c * aqk;
        }
        for (int64_t k = 0; k < n; ++k) {  // V <- V J
          const double vkp = at(v, k, p), vkq = at(v, k, q);
          at(v, k, p) = c * vkp - s * vkq;
          at(v, k, q) = s * vkp + c * vkq;
        }
      }
  }

  std::vector<int64_t> order(static_cast<size_t>(n));
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(),
                   [&](int64_t x, int64_t y) { return at(a, x, x) < at(a, y, y); });
  SymmetricEigen out;
  out.values.resize(static_cast<size_t>(n));
  out.vectors.resize(static_cast<size_t>(n * n));
  for (int64_t j = 0; j < n; ++j) {
    const int64_t from = order[static_cast<size_t>(j)];
    out.values[static_cast<size_t>(j)] = at(a, from, from);
    for (int64_t k = 0; k < n; ++k) out.vectors[static_cast<size_t>(k * n + j)] = at(v, k, from);
  }
  return out;
}

}  // namespace kestrel::init
