#pragma once
// Batch normalisation over [N, C, inner] (torch.nn.BatchNorm2d: inner = H * W), the arithmetic
// both backends share. The per-channel sums themselves are reductions (kernels/cpu/batch_norm,
// kernels/cuda/batch_norm.cu); what they do with the sums, and every per-element pass, is here.
//
// Statistics of a training pass, per channel over its M = N * inner values, from sums in double
// of d = x - K, K the channel's first value x[0, c, 0] (the shifted one-pass algorithm: no
// cancellation when the mean is large next to the spread):
//   mean = K + S1 / M, var = S2 / M - (S1 / M)^2 (biased, clamped at 0),
//   invstd = 1 / sqrt(var + eps), both kept in f32 for backward;
//   running_mean = (1 - f) * running_mean + f * mean,
//   running_var  = (1 - f) * running_var  + f * var * M / (M - 1)   (unbiased),
// f = momentum, or 1 / num_batches_tracked after this batch (torch's momentum=None), computed in
// double and stored in f32 (torch's CPU update). Evaluation uses mean = running_mean and
// invstd = 1 / sqrt(running_var + eps) instead.
//   y = (x - mean) * (weight * invstd) + bias        (weight 1 and bias 0 without affine)
// Backward, from sums in double of dy and dy * (x - mean):
//   dbias = sum(dy), dweight = invstd * sum(dy * (x - mean)),
//   dx = (dy - sum(dy) / M - (x - mean) * invstd^2 * sum(dy * (x - mean)) / M) * weight * invstd
// with batch statistics, dx = dy * weight * invstd with running ones.
// Every f32 operation of a per-element pass is rounded on its own (fp.hpp), so the GPU and the
// CPU compute the same expression; their per-channel sums differ in order (tests: tolerance).
#include <cmath>
#include <cstdint>

#include "kernels/common/fp.hpp"
#include "kernels/common/hd.hpp"

namespace kestrel::kernels {

struct BatchNormGeometry {
  int64_t batch;
  int64_t channels;
  int64_t inner;  // values per channel of one sample (H * W)
  KESTREL_HD int64_t per_channel() const { return batch * inner; }
};

// Where a training pass's statistics go.
struct BatchNormStatsOut {
  float* save_mean;    // [C]
  float* save_invstd;  // [C]
  // The running statistics, or null when they are not tracked (then nothing below is read).
  float* running_mean;
  float* running_var;
  const int64_t* num_batches_tracked;  // before this batch; read when momentum < 0
  double momentum;                     // < 0: cumulative average (torch's momentum=None)
  double eps;
};

// Channel c's statistics from the shifted sums of its `count` values (count >= 2).
KESTREL_HD_INLINE void batch_norm_finish_stats(const BatchNormStatsOut& o, int64_t c, int64_t count,
                                               double shift, double sum, double sum_sq) {
  const double m = static_cast<double>(count);
  const double shifted_mean = sum / m;
  const double mean = shift + shifted_mean;
  double var = sum_sq / m - shifted_mean * shifted_mean;
  if (var < 0.0) var = 0.0;  // rounding below 0 (a NaN stays NaN)
  o.save_mean[c] = static_cast<float>(mean);
  o.save_invstd[c] = static_cast<float>(1.0 / ::sqrt(var + o.eps));
  if (o.running_mean == nullptr) return;
  const double f =
      o.momentum >= 0.0 ? o.momentum : 1.0 / static_cast<double>(*o.num_batches_tracked + 1);
  const double unbiased = var * m / (m - 1.0);
  o.running_mean[c] =
      static_cast<float>(f * mean + (1.0 - f) * static_cast<double>(o.running_mean[c]));
  o.running_var[c] =
      static_cast<float>(f * unbiased + (1.0 - f) * static_cast<double>(o.running_var[c]));
}

// Evaluation: the running statistics as the saved mean and inverse deviation, one channel per
// call.
struct BatchNormEvalStats {
  const float* running_mean;
  const float* running_var;
  float* save_mean;
  float* save_invstd;
  double eps;
  KESTREL_HD void operator()(int64_t c) const {
    save_mean[c] = running_mean[c];
    save_invstd[c] = static_cast<float>(1.0 / ::sqrt(static_cast<double>(running_var[c]) + eps));
  }
};

// num_batches_tracked += 1 (one call), after the statistics pass read it.
struct BatchNormCountBatch {
  int64_t* num_batches_tracked;
  KESTREL_HD void operator()(int64_t) const { *num_batches_tracked += 1; }
};

// weight * invstd, the factor of (x - mean) in y and of dy in dx.
KESTREL_HD_INLINE float batch_norm_scale(const float* weight, const float* invstd, int64_t c) {
  return weight != nullptr ? fp::mul_rn(weight[c], invstd[c]) : invstd[c];
}

KESTREL_HD_INLINE float batch_norm_apply_one(float x, float mean, float scale, float bias) {
  return fp::add_rn(fp::mul_rn(fp::add_rn(x, -mean), scale), bias);
}

// ReluForward's choice: positive values stay, the rest (zeros, negatives, NaN) become 0.
KESTREL_HD_INLINE float batch_norm_relu(float v) { return v > 0.0f ? v : 0.0f; }

// y = (x - mean) * (weight * invstd) + bias, one element per call; weight and bias null
// without affine. With relu set, y = max(y, 0) as ReluForward has it (a ReLU the batch norm
// absorbed: the same bits as the two passes, one pass over memory fewer).
struct BatchNormApply {
  BatchNormGeometry g;
  const float* x;
  float* y;
  const float* mean;
  const float* invstd;
  const float* weight;
  const float* bias;
  bool relu = false;
  KESTREL_HD void operator()(int64_t i) const {
    const int64_t c = (i / g.inner) % g.channels;
    const float v = batch_norm_apply_one(x[i], mean[c], batch_norm_scale(weight, invstd, c),
                                         bias != nullptr ? bias[c] : 0.0f);
    y[i] = relu ? batch_norm_relu(v) : v;
  }
};

// Where backward's per-channel results go.
struct BatchNormBackwardOut {
  const float* save_mean;
  const float* save_invstd;
  float* dweight;  // null: not wanted
  float* dbias;    // null: not wanted
  // [2, C]: sum(dy) / M and invstd^2 * sum(dy * (x - mean)) / M per channel, for dx with batch
  // statistics; null with running statistics (dx needs no sums then).
  float* coefficients;
};

// Channel c's gradients from the sums of its `count` values.
KESTREL_HD_INLINE void batch_norm_finish_backward(const BatchNormBackwardOut& o, int64_t c,
                                                  int64_t channels, int64_t count, double sum_dy,
                                                  double sum_dy_xmu) {
  const double invstd = static_cast<double>(o.save_invstd[c]);
  if (o.dbias != nullptr) o.dbias[c] = static_cast<float>(sum_dy);
  if (o.dweight != nullptr) o.dweight[c] = static_cast<float>(sum_dy_xmu * invstd);
  if (o.coefficients != nullptr) {
    const double m = static_cast<double>(count);
    o.coefficients[c] = static_cast<float>(sum_dy / m);
    o.coefficients[channels + c] = static_cast<float>(sum_dy_xmu * invstd * invstd / m);
  }
}

KESTREL_HD_INLINE float batch_norm_dx_one(float dy, float x, float mean, float scale,
                                          const float* coefficients, int64_t channels, int64_t c) {
  if (coefficients == nullptr) return fp::mul_rn(dy, scale);
  const float centred = fp::add_rn(dy, -coefficients[c]);
  const float projected = fp::mul_rn(fp::add_rn(x, -mean), coefficients[channels + c]);
  return fp::mul_rn(fp::add_rn(centred, -projected), scale);
}

// dx, one element per call: with batch statistics (coefficients given) the full gradient
// through the mean and variance, otherwise dy * weight * invstd.
struct BatchNormBackwardInput {
  BatchNormGeometry g;
  const float* x;
  const float* dy;
  float* dx;
  const float* mean;
  const float* invstd;
  const float* weight;
  const float* coefficients;
  KESTREL_HD void operator()(int64_t i) const {
    const int64_t c = (i / g.inner) % g.channels;
    dx[i] = batch_norm_dx_one(dy[i], x[i], mean[c], batch_norm_scale(weight, invstd, c),
                              coefficients, g.channels, c);
  }
};

}  // namespace kestrel::kernels
