#include "kernels/cpu/softmax.hpp"

#include <algorithm>
#include <cmath>

#include "kernels/cpu/parallel.hpp"

namespace kestrel::cpu {

void softmax_rows_forward(const float* x, float* y, int64_t rows, int64_t cols) {
  parallel_for(
      rows,
      [&](int64_t r) {
        const float* in = x + r * cols;
        float* out = y + r * cols;
        float max = in[0];
        for (int64_t j = 1; j < cols; ++j) max = std::max(max, in[j]);
        // The sum in double: a long row of small terms keeps its digits.
        double sum = 0.0;
        for (int64_t j = 0; j < cols; ++j) {
          out[j] = std::exp(in[j] - max);
          sum += static_cast<double>(out[j]);
        }
        const float inv = static_cast<float>(1.0 / sum);
        for (int64_t j = 0; j < cols; ++j) out[j] *= inv;
      },
      rows * cols * 4);
}

void softmax_rows_backward(const float* y, const float* dy, float* dx, int64_t rows,
                           int64_t cols) {
  parallel_for(
      rows,
      [&](int64_t r) {
        const float* p = y + r * cols;
        const float* g = dy + r * cols;
        float* out = dx + r * cols;
        double dot = 0.0;
        for (int64_t j = 0; j < cols; ++j)
          dot += static_cast<double>(g[j]) * static_cast<double>(p[j]);
        const float d = static_cast<float>(dot);
        for (int64_t j = 0; j < cols; ++j) out[j] = p[j] * (g[j] - d);
      },
      rows * cols * 3);
}

}  // namespace kestrel::cpu
