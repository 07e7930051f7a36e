#pragma once
// Eigen-decomposition of a small symmetric matrix (cyclic Jacobi rotations, in double): what
// patch whitening needs for its 12x12 or 27x27 patch covariance. Small enough that a
// self-contained solver is simpler than making LAPACK a dependency (kestrel's BLAS is optional),
// and its result does not depend on which LAPACK a machine has.
#include <cstdint>
#include <vector>

namespace kestrel::init {

struct SymmetricEigen {
  std::vector<double> values;   // [n], ascending (torch.linalg.eigh's order)
  std::vector<double> vectors;  // [n, n] row-major: column j is the unit eigenvector of values[j]
};

// a: [n, n] row-major, symmetric (only its upper triangle is read). Converges to full double
// precision for any symmetric input; throws kestrel::Error for n < 1, a size mismatch or a
// non-finite entry.
SymmetricEigen symmetric_eigen(const std::vector<double>& a, int64_t n);

}  // namespace kestrel::init
