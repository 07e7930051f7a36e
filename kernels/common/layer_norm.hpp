#pragma once
// Layer normalisation over the last dimension (torch.nn.LayerNorm(D, eps) on [..., D]): the
// arithmetic both backends share. Rows are the R = numel / D vectors of D features; the per-row
// sums are reductions (kernels/cpu/layer_norm, kernels/cuda/layer_norm.cu), what they do with
// the sums and every per-element pass is here.
//
// Forward, per row, from sums in double (two passes: the mean, then the squared deviations, so a
// large mean costs no digits):
//   mean = sum(x) / D, var = sum((x - mean)^2) / D (biased, as torch), rstd = 1 / sqrt(var + eps),
//   both kept in f32 for backward;  y = (x - mean) * rstd * weight + bias.
// Backward, with xhat = (x - mean) * rstd and g = dy * weight, from per-row sums in double:
//   dx = rstd * (g - sum(g) / D - xhat * sum(g * xhat) / D),
// and per feature, over the rows in order (a gather: one call per feature, no atomics):
//   dweight = sum(dy * xhat), dbias = sum(dy).
// Every f32 operation of a per-element pass is rounded on its own (fp.hpp), so both backends
// compute the same expression; their row sums differ in order (tests: tolerance).
#include <cmath>
#include <cstdint>

#include "kernels/common/fp.hpp"
#include "kernels/common/hd.hpp"

namespace kestrel::kernels {

struct LayerNormGeometry {
  int64_t rows;
  int64_t features;  // D, the normalised (last) dimension
};

// Row r's statistics from sum((x - mean)^2) over its D values.
KESTREL_HD_INLINE void layer_norm_finish_stats(float* save_mean, float* save_rstd, int64_t r,
                                               int64_t features, double mean, double sum_sq,
                                               double eps) {
  const double var = sum_sq / static_cast<double>(features);
  save_mean[r] = static_cast<float>(mean);
  save_rstd[r] = static_cast<float>(1.0 / ::sqrt(var + eps));
}

KESTREL_HD_INLINE float layer_norm_xhat(float x, float mean, float rstd) {
  return fp::mul_rn(fp::add_rn(x, -mean), rstd);
}

// y = (x - mean) * rstd * weight + bias, one element per call.
struct LayerNormApply {
  LayerNormGeometry g;
  const float* x;
  float* y;
  const float* mean;
  const float* rstd;
  const float* weight;
  const float* bias;
  KESTREL_HD void operator()(int64_t i) const {
    const int64_t r = i / g.features, c = i - r * g.features;
    y[i] = fp::add_rn(fp::mul_rn(layer_norm_xhat(x[i], mean[r], rstd[r]), weight[c]), bias[c]);
  }
};

// Row r's dx coefficients [R, 2] from sum(g) and sum(g * xhat): their means over the row.
KESTREL_HD_INLINE void layer_norm_finish_backward(float* coefficients, int64_t r, int64_t features,
                                                  double sum_g, double sum_g_xhat) {
  const double d = static_cast<double>(features);
  coefficients[2 * r] = static_cast<float>(sum_g / d);
  coefficients[2 * r + 1] = static_cast<float>(sum_g_xhat / d);
}

// dx = rstd * ((dy * weight - mean(g)) - xhat * mean(g * xhat)), one element per call.
struct LayerNormBackwardInput {
  LayerNormGeometry g;
  const float* x;
  const float* dy;
  float* dx;
  const float* mean;
  const float* rstd;
  const float* weight;
  const float* coefficients;  // [R, 2]
  KESTREL_HD void operator()(int64_t i) const {
    const int64_t r = i / g.features, c = i - r * g.features;
    const float xhat = layer_norm_xhat(x[i], mean[r], rstd[r]);
    const float centred = fp::add_rn(fp::mul_rn(dy[i], weight[c]), -coefficients[2 * r]);
    const float projected = fp::mul_rn(xhat, coefficients[2 * r + 1]);
    dx[i] = fp::mul_rn(fp::add_rn(centred, -projected), rstd[r]);
  }
};

// dweight[c] = sum over rows of dy * xhat, dbias[c] = sum of dy, in double, rows in order: one
// call per feature, so the sums do not depend on what runs the features. Either output may be
// null (not wanted).
struct LayerNormParamGrads {
  LayerNormGeometry g;
  const float* x;
  const float* dy;
  const float* mean;
  const float* rstd;
  float* dweight;
  float* dbias;
  KESTREL_HD void operator()(int64_t c) const {
    double sw = 0.0, sb = 0.0;
    for (int64_t r = 0; r < g.rows; ++r) {
      const int64_t i = r * g.features + c;
      const double d = static_cast<double>(dy[i]);
      sw += d * ((static_cast<double>(x[i]) - static_cast<double>(mean[r])) *
                 static_cast<double>(rstd[r]));
      sb += d;
    }
    if (dweight != nullptr) dweight[c] = static_cast<float>(sw);
    if (dbias != nullptr) dbias[c] = static_cast<float>(sb);
  }
};

}  // namespace kestrel::kernels
