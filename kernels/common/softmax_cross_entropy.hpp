#pragma once
// Fused softmax + cross-entropy (PyTorch's F.cross_entropy with label_smoothing), one call per
// row (= one sample). For logits z of row r with C classes and target distribution
// q = (1 - eps) onehot(label) + eps / C:
//   loss_r   = -sum_j q_j log softmax(z)_j = lse(z) - sum_j q_j z_j
//   dloss/dz = (softmax(z) - q) / N           (the mean over the batch of N rows)
// Everything is computed on s = z - max(z), so logits of magnitude 1e4 neither overflow the
// exponentials nor cancel in the loss; the row's sums are accumulated in double.
#include <cmath>
#include <cstdint>

#include "kernels/common/hd.hpp"

namespace kestrel::kernels {

struct CrossEntropySpec {
  float label_smoothing = 0.0f;  // eps in [0, 1]
  // The N of the gradient's mean; 0: the rows given. A data-parallel rank passes the rows of
  // the whole global batch, so that the ranks' gradients sum to the combined batch's mean.
  int64_t gradient_divisor = 0;
};

// The row's loss from its sums over s = z - max(z): sum_exp = sum_j exp(s_j) and sum_shifted =
// sum_j s_j, and s at the label. q puts (1 - eps) + eps / C on the label and eps / C everywhere
// else; sum_j q_j = 1, so the max cancels: loss = lse(s) - (1 - eps) s_label - (eps / C) sum_j
// s_j. Shared by the row functor below and the GPU's warp-per-row kernel.
KESTREL_HD_INLINE float softmax_cross_entropy_loss(double sum_exp, double sum_shifted,
                                                   float s_label, float label_smoothing,
                                                   int64_t classes) {
  const double log_sum_exp = ::log(sum_exp);  // lse(z) - max
  const double eps = static_cast<double>(label_smoothing);
  const double off_target = eps / static_cast<double>(classes);
  const double on_target = 1.0 - eps;
  return static_cast<float>(log_sum_exp - on_target * static_cast<double>(s_label) -
                            off_target * sum_shifted);
}

// d(mean loss)/dz_j = (softmax(z)_j - q_j) / batch, from s_j = z_j - max(z) and 1 / sum_exp.
KESTREL_HD_INLINE float softmax_cross_entropy_gradient(float s, double inv_sum, bool is_label,
                                                       float label_smoothing, int64_t classes,
                                                       double inv_batch) {
  const double eps = static_cast<double>(label_smoothing);
  const double off_target = eps / static_cast<double>(classes);
  const double on_target = 1.0 - eps;
  const double p = static_cast<double>(::expf(s)) * inv_sum;
  const double q = off_target + (is_label ? on_target : 0.0);
  return static_cast<float>((p - q) * inv_batch);
}

struct SoftmaxCrossEntropyRow {
  const float* logits;    // [N, C]
  const int32_t* labels;  // [N], each in [0, C) (checked by the op)
  float* row_loss;        // [N]: loss of each row, summed by the caller in a fixed order
  float* dlogits;         // [N, C], or nullptr for no gradient; may be the logits (in place)
  int64_t batch;          // the divisor of the gradient's mean (N, or a global batch)
  int64_t classes;        // C
  float label_smoothing;

  KESTREL_HD void operator()(int64_t r) const {
    const float* z = logits + r * classes;
    const int32_t label = labels[r];
    if (label < 0 || label >= classes) {  // the op checks first; never read out of bounds
      row_loss[r] = NAN;
      return;
    }

    float max = z[0];
    for (int64_t j = 1; j < classes; ++j) max = z[j] > max ? z[j] : max;

    double sum_exp = 0.0, sum_shifted = 0.0;
    for (int64_t j = 0; j < classes; ++j) {
      const float s = z[j] - max;
      sum_exp += static_cast<double>(::expf(s));
      sum_shifted += static_cast<double>(s);
    }
    row_loss[r] =
        softmax_cross_entropy_loss(sum_exp, sum_shifted, z[label] - max, label_smoothing, classes);

    if (dlogits == nullptr) return;
    float* d = dlogits + r * classes;
    const double inv_sum = 1.0 / sum_exp;
    const double inv_batch = 1.0 / static_cast<double>(batch);
    for (int64_t j = 0; j < classes; ++j)
      d[j] = softmax_cross_entropy_gradient(z[j] - max, inv_sum, j == label, label_smoothing,
                                            classes, inv_batch);
  }
};

}  // namespace kestrel::kernels
