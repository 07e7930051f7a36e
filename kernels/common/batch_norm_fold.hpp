#pragma once
// Batch norm folded into the convolution before it, for evaluation: with the running
// statistics, BN(conv(x, W) + b) = conv(x, W') + b' where, per output channel c,
//   s_c = gamma_c / sqrt(var_c + eps),  W'[c] = W[c] * s_c,  b'_c = beta_c + (b_c - mean_c) * s_c.
// One call per element of W' followed by b' (the folded weights are one buffer: [W' | b']);
// s_c is computed in double and each result rounded once.
#include <cmath>
#include <cstdint>

#include "kernels/common/hd.hpp"

namespace kestrel::kernels {

struct FoldBatchNorm {
  float* folded;        // [out * per_channel] weights, then [out] biases
  const float* weight;  // the convolution's, [out, per_channel]
  const float* bias;    // the convolution's [out], or null (none)
  const float* gamma;   // [out], or null (affine=False: 1)
  const float* beta;    // [out], or null (affine=False: 0)
  const float* mean;    // running_mean [out]
  const float* var;     // running_var [out]
  double eps;
  int64_t out_channels;
  int64_t per_channel;  // in / groups * kh * kw

  KESTREL_HD void operator()(int64_t i) const {
    const int64_t weights = out_channels * per_channel;
    const int64_t c = i < weights ? i / per_channel : i - weights;
    const double s = (gamma != nullptr ? static_cast<double>(gamma[c]) : 1.0) /
                     ::sqrt(static_cast<double>(var[c]) + eps);
    if (i < weights) {
      folded[i] = static_cast<float>(static_cast<double>(weight[i]) * s);
    } else {
      const double b = bias != nullptr ? static_cast<double>(bias[c]) : 0.0;
      const double shift = beta != nullptr ? static_cast<double>(beta[c]) : 0.0;
      folded[i] = static_cast<float>(shift + (b - static_cast<double>(mean[c])) * s);
    }
  }
};

}  // namespace kestrel::kernels
