#pragma once
// The element-wise parts of a Muon step (engine/optim/muon.hpp), one matrix at a time: the
// matrix is a parameter of the flat buffer viewed as [rows, cols] (rows = its first dimension),
// and the orthogonalisation runs on its "wide" form [min, max] (the transpose when rows > cols),
// so that X X^T is the smaller square. Every functor reads the step ledger's halt flag and, where
// a norm is involved, the squared norm that ops::sum_squares left in device memory, so a step
// needs no value from the host and a CUDA Graph can replay it.
#include <cstdint>

#include "kernels/common/fp.hpp"
#include "kernels/common/hd.hpp"

namespace kestrel::kernels {

// Element i = r * cols + c of the matrix and its place in the wide form.
KESTREL_HD inline int64_t muon_wide_index(int64_t i, int64_t rows, int64_t cols, bool transposed) {
  return transposed ? (i % cols) * rows + i / cols : i;
}

// torch's Muon momentum: buf = momentum * buf + g (buf.mul_(momentum).add_(g)); the update
// u = g + momentum * buf with Nesterov (g.add(buf, alpha=momentum): one fma), else buf, written
// in the wide form. The buffer starts at zero, as torch's.
struct MuonMomentum {
  const float* grad;  // the matrix's gradient
  float* buffer;      // its momentum
  float* update;      // wide form
  int64_t rows, cols;
  bool transposed;
  float momentum;
  bool nesterov;
  const int32_t* skip;

  KESTREL_HD void operator()(int64_t i) const {
    if (skip != nullptr && *skip != 0) return;
    const float g = grad[i];
    const float buf = fp::add_rn(fp::mul_rn(buffer[i], momentum), g);
    buffer[i] = buf;
    update[muon_wide_index(i, rows, cols, transposed)] = nesterov ? fp::fma_rn(buf, momentum, g)
                                                                  : buf;
  }
};

// x *= target / (||x|| + eps), the factor from the squared norm in double, rounded to f32 once:
// the update scaled to spectral norm at most 1 before Newton-Schulz (target 1, eps 1e-7), and
// airbench's weight normalisation p *= sqrt(rows) / ||p|| (eps 0).
struct MuonScaleToNorm {
  float* x;
  const double* sum_squares;
  double target;
  double eps;
  const int32_t* skip;

  KESTREL_HD void operator()(int64_t i) const {
    if (skip != nullptr && *skip != 0) return;
    const double norm = ::sqrt(*sum_squares);
    if (!(norm > 0.0)) return;  // a zero matrix stays zero
    x[i] = fp::mul_rn(x[i], static_cast<float>(target / (norm + eps)));
  }
};

// dst = src: the products of one Newton-Schulz iteration accumulate onto copies (beta != 0).
struct MuonCopy {
  float* dst;
  const float* src;
  KESTREL_HD void operator()(int64_t i) const { dst[i] = src[i]; }
};

// p = p - lr * O, O the orthogonalised update read back from its wide form; lr from device
// memory (the optimizer's step scalars, written each step).
struct MuonApply {
  float* param;          // the matrix
  const float* ortho;    // wide form
  const float* lr;       // device memory
  int64_t rows, cols;
  bool transposed;
  const int32_t* skip;

  KESTREL_HD void operator()(int64_t i) const {
    if (skip != nullptr && *skip != 0) return;
    param[i] = fp::fma_rn(ortho[muon_wide_index(i, rows, cols, transposed)], -*lr, param[i]);
  }
};

}  // namespace kestrel::kernels
