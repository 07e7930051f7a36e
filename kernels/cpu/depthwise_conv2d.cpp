#include "kernels/cpu/depthwise_conv2d.hpp"

#include <algorithm>
#include <vector>

#include "kernels/cpu/parallel.hpp"

namespace kestrel::cpu {

namespace {

using kernels::Conv2dGeometry;

// The output columns [begin, end) whose tap at input offset `offset` (= s * dilation - pad)
// reads inside an input row of `width`: begin * stride + offset >= 0 and
// (end - 1) * stride + offset < width.
struct Span {
  int64_t begin, end;
};
Span valid_outputs(int64_t offset, int64_t stride, int64_t width, int64_t outputs) {
  const int64_t begin = offset >= 0 ? 0 : (-offset + stride - 1) / stride;
  const int64_t last = width - 1 - offset;  // the largest q * stride allowed
  const int64_t end = last < 0 ? 0 : std::min(outputs, last / stride + 1);
  return {begin, std::max(begin, end)};
}

}  // namespace

void depthwise_conv2d_forward(const Conv2dGeometry& g, const float* x, const float* w,
                              const float* bias, float* y) {
  const int64_t kg = g.out_channels_per_group();
  const int64_t plane_in = g.h * g.w, plane_out = g.oh * g.ow;
  parallel_for(
      g.n * g.k,
      [&](int64_t plane) {
        const int64_t image = plane / g.k, k = plane % g.k;
        const float* in = x + (image * g.c + k / kg) * plane_in;
        const float* taps = w + k * g.r * g.s;
        float* out = y + plane * plane_out;
        std::fill(out, out + plane_out, bias != nullptr ? bias[k] : 0.0f);
        for (int64_t p = 0; p < g.oh; ++p) {
          float* out_row = out + p * g.ow;
          for (int64_t r = 0; r < g.r; ++r) {
            const int64_t ih = p * g.stride_h - g.pad_h + r * g.dilation_h;
            if (ih < 0 || ih >= g.h) continue;
            const float* in_row = in + ih * g.w;
            for (int64_t s = 0; s < g.s; ++s) {
              const int64_t offset = s * g.dilation_w - g.pad_w;
              const Span q = valid_outputs(offset, g.stride_w, g.w, g.ow);
              const float tap = taps[r * g.s + s];
              for (int64_t j = q.begin; j < q.end; ++j)
                out_row[j] += tap * in_row[j * g.stride_w + offset];
            }
          }
        }
      },
      g.n * g.k * plane_out * g.r * g.s);
}

void depthwise_conv2d_backward_data(const Conv2dGeometry& g, const float* dy, const float* w,
                                    float* dx) {
  const int64_t kg = g.out_channels_per_group();
  const int64_t plane_in = g.h * g.w, plane_out = g.oh * g.ow;
  parallel_for(
      g.n * g.c,
      [&](int64_t plane) {
        const int64_t image = plane / g.c, c = plane % g.c;
        float* grad_in = dx + plane * plane_in;
        std::fill(grad_in, grad_in + plane_in, 0.0f);
        for (int64_t m = 0; m < kg; ++m) {
          const int64_t k = c * kg + m;
          const float* grad_out = dy + (image * g.k + k) * plane_out;
          const float* taps = w + k * g.r * g.s;
          for (int64_t p = 0; p < g.oh; ++p) {
            const float* grad_row = grad_out + p * g.ow;
            for (int64_t r = 0; r < g.r; ++r) {
              const int64_t ih = p * g.stride_h - g.pad_h + r * g.dilation_h;
              if (ih < 0 || ih >= g.h) continue;
              float* in_row = grad_in + ih * g.w;
              for (int64_t s = 0; s < g.s; ++s) {
                const int64_t offset = s * g.dilation_w - g.pad_w;
                const Span q = valid_outputs(offset, g.stride_w, g.w, g.ow);
                const float tap = taps[r * g.s + s];
                for (int64_t j = q.begin; j < q.end; ++j)
                  in_row[j * g.stride_w + offset] += tap * grad_row[j];
              }
            }
          }
        }
      },
      g.n * g.k * plane_out * g.r * g.s);
}

void depthwise_conv2d_backward_weight(const Conv2dGeometry& g, const float* x, const float* dy,
                                      float* dw) {
  const int64_t kg = g.out_channels_per_group(), taps = g.r * g.s;
  const int64_t plane_in = g.h * g.w, plane_out = g.oh * g.ow;
  parallel_for(
      g.k,
      [&](int64_t k) {
        std::vector<double> sums(static_cast<size_t>(taps), 0.0);
        for (int64_t image = 0; image < g.n; ++image) {
          const float* in = x + (image * g.c + k / kg) * plane_in;
          const float* grad_out = dy + (image * g.k + k) * plane_out;
          for (int64_t p = 0; p < g.oh; ++p) {
            const float* grad_row = grad_out + p * g.ow;
            for (int64_t r = 0; r < g.r; ++r) {
              const int64_t ih = p * g.stride_h - g.pad_h + r * g.dilation_h;
              if (ih < 0 || ih >= g.h) continue;
              const float* in_row = in + ih * g.w;
              for (int64_t s = 0; s < g.s; ++s) {
                const int64_t offset = s * g.dilation_w - g.pad_w;
                const Span q = valid_outputs(offset, g.stride_w, g.w, g.ow);
                double acc = 0.0;
                for (int64_t j = q.begin; j < q.end; ++j)
                  acc += static_cast<double>(grad_row[j]) * in_row[j * g.stride_w + offset];
                sums[static_cast<size_t>(r * g.s + s)] += acc;
              }
            }
          }
        }
        for (int64_t t = 0; t < taps; ++t)
          dw[k * taps + t] = static_cast<float>(sums[static_cast<size_t>(t)]);
      },
      g.n * g.k * plane_out * taps);
}

}  // namespace kestrel::cpu
