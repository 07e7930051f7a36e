#include "kernels/cpu/layer_norm.hpp"

#include <cstdint>

#include "kernels/cpu/parallel.hpp"

namespace kestrel::cpu {

void layer_norm_stats(const kernels::LayerNormGeometry& g, const float* x, double eps,
                      float* save_mean, float* save_rstd) {
  const int64_t d = g.features;
  parallel_for(
      g.rows,
      [&](int64_t r) {
        const float* v = x + r * d;
        double sum = 0.0;
        for (int64_t j = 0; j < d; ++j) sum += static_cast<double>(v[j]);
        const double mean = sum / static_cast<double>(d);
        double sq = 0.0;
        for (int64_t j = 0; j < d; ++j) {
          const double dev = static_cast<double>(v[j]) - mean;
          sq += dev * dev;
        }
        kernels::layer_norm_finish_stats(save_mean, save_rstd, r, d, mean, sq, eps);
      },
      3 * g.rows * d);
}

void layer_norm_backward_reduce(const kernels::LayerNormGeometry& g, const float* x,
                                const float* dy, const float* weight, const float* save_mean,
                                const float* save_rstd, float* coefficients) {
  const int64_t d = g.features;
  parallel_for(
      g.rows,
      [&](int64_t r) {
        const float* xr = x + r * d;
        const float* dyr = dy + r * d;
        const double mean = static_cast<double>(save_mean[r]);
        const double rstd = static_cast<double>(save_rstd[r]);
        double sum_g = 0.0, sum_gx = 0.0;
        for (int64_t j = 0; j < d; ++j) {
          const double gj = static_cast<double>(dyr[j]) * static_cast<double>(weight[j]);
          sum_g += gj;
          sum_gx += gj * ((static_cast<double>(xr[j]) - mean) * rstd);
        }
        kernels::layer_norm_finish_backward(coefficients, r, d, sum_g, sum_gx);
      },
      4 * g.rows * d);
}

}  // namespace kestrel::cpu
