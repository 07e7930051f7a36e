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

// valid_outputs for each column tap s: the same for every row, so computed once per call rather
// than once per (row, tap) inside the loops (its two divisions cost more than a 16-wide row).
std::vector<Span> column_spans(const Conv2dGeometry& g) {
  std::vector<Span> spans(static_cast<size_t>(g.s));
  for (int64_t s = 0; s < g.s; ++s)
    spans[static_cast<size_t>(s)] =
        valid_outputs(s * g.dilation_w - g.pad_w, g.stride_w, g.w, g.ow);
  return spans;
}

// Stride 1, the common case (every depthwise convolution of MobileNetV2 and EfficientNet-B0 but
// the few that downsample), runs on zero-padded planes: with the input padded to Hp x Wp and the
// output computed Wp wide (its last Wp - ow columns are discarded), tap (r, s) is one long
// multiply-add over the whole plane at the fixed offset r * dil_h * Wp + s * dil_w, which the
// compiler vectorises; the general loops run up to r * s short rows of ow per output row, whose
// set-up costs more than their work on a 16x16 plane.
struct PaddedPlane {
  int64_t hp, wp;    // padded input
  int64_t wide;      // elements of the Wp-wide output rows: oh * wp
  int64_t size;      // padded input plus the overrun of the last row's discarded columns
};

bool stride_one(const Conv2dGeometry& g) { return g.stride_h == 1 && g.stride_w == 1; }

PaddedPlane padded_plane(const Conv2dGeometry& g) {
  const int64_t hp = g.h + 2 * g.pad_h, wp = g.w + 2 * g.pad_w;
  return {hp, wp, g.oh * wp, hp * wp + (g.s - 1) * g.dilation_w};
}

int64_t tap_offset(const Conv2dGeometry& g, const PaddedPlane& pp, int64_t r, int64_t s) {
  return r * g.dilation_h * pp.wp + s * g.dilation_w;
}

// The thread's scratch, grown once and reused: no allocation per plane.
float* scratch(std::vector<float>& buffer, int64_t n) {
  if (static_cast<int64_t>(buffer.size()) < n) buffer.resize(static_cast<size_t>(n));
  return buffer.data();
}

// `plane` (h x w) into `padded` (pp.size elements, zero outside the plane).
void pad_plane(const Conv2dGeometry& g, const PaddedPlane& pp, const float* plane, float* padded) {
  std::fill(padded, padded + pp.size, 0.0f);
  for (int64_t i = 0; i < g.h; ++i)
    std::copy(plane + i * g.w, plane + (i + 1) * g.w, padded + (i + g.pad_h) * pp.wp + g.pad_w);
}

// `plane` (oh x ow) into `wide` (oh x wp, zero in the extra columns).
void widen_plane(const Conv2dGeometry& g, const PaddedPlane& pp, const float* plane, float* wide) {
  std::fill(wide, wide + pp.wide, 0.0f);
  for (int64_t p = 0; p < g.oh; ++p)
    std::copy(plane + p * g.ow, plane + (p + 1) * g.ow, wide + p * pp.wp);
}

void forward_stride_one(const Conv2dGeometry& g, const float* x, const float* w,
                        const float* bias, float* y) {
  const int64_t kg = g.out_channels_per_group();
  const int64_t plane_in = g.h * g.w, plane_out = g.oh * g.ow;
  const PaddedPlane pp = padded_plane(g);
  parallel_for_vectorised(
      g.n * g.k,
      [&](int64_t plane) {
        thread_local std::vector<float> padded_buffer, wide_buffer;
        float* padded = scratch(padded_buffer, pp.size);
        float* wide = scratch(wide_buffer, pp.wide);
        const int64_t image = plane / g.k, k = plane % g.k;
        pad_plane(g, pp, x + (image * g.c + k / kg) * plane_in, padded);
        std::fill(wide, wide + pp.wide, bias != nullptr ? bias[k] : 0.0f);
        const float* taps = w + k * g.r * g.s;
        for (int64_t r = 0; r < g.r; ++r)
          for (int64_t s = 0; s < g.s; ++s) {
            const float tap = taps[r * g.s + s];
            const float* in = padded + tap_offset(g, pp, r, s);
            for (int64_t i = 0; i < pp.wide; ++i) wide[i] += tap * in[i];
          }
        float* out = y + plane * plane_out;
        for (int64_t p = 0; p < g.oh; ++p)
          std::copy(wide + p * pp.wp, wide + p * pp.wp + g.ow, out + p * g.ow);
      },
      g.n * g.k * pp.wide * g.r * g.s);
}

void backward_data_stride_one(const Conv2dGeometry& g, const float* dy, const float* w,
                              float* dx) {
  const int64_t kg = g.out_channels_per_group();
  const int64_t plane_in = g.h * g.w, plane_out = g.oh * g.ow;
  const PaddedPlane pp = padded_plane(g);
  parallel_for_vectorised(
      g.n * g.c,
      [&](int64_t plane) {
        thread_local std::vector<float> padded_buffer, wide_buffer;
        float* grad_padded = scratch(padded_buffer, pp.size);
        float* grad_wide = scratch(wide_buffer, pp.wide);
        const int64_t image = plane / g.c, c = plane % g.c;
        std::fill(grad_padded, grad_padded + pp.size, 0.0f);
        for (int64_t m = 0; m < kg; ++m) {
          const int64_t k = c * kg + m;
          widen_plane(g, pp, dy + (image * g.k + k) * plane_out, grad_wide);
          const float* taps = w + k * g.r * g.s;
          for (int64_t r = 0; r < g.r; ++r)
            for (int64_t s = 0; s < g.s; ++s) {
              const float tap = taps[r * g.s + s];
              float* in = grad_padded + tap_offset(g, pp, r, s);
              for (int64_t i = 0; i < pp.wide; ++i) in[i] += tap * grad_wide[i];
            }
        }
        float* grad_in = dx + plane * plane_in;
        for (int64_t i = 0; i < g.h; ++i) {
          const float* row = grad_padded + (i + g.pad_h) * pp.wp + g.pad_w;
          std::copy(row, row + g.w, grad_in + i * g.w);
        }
      },
      g.n * g.k * pp.wide * g.r * g.s);
}

void backward_weight_stride_one(const Conv2dGeometry& g, const float* x, const float* dy,
                                float* dw) {
  const int64_t kg = g.out_channels_per_group(), taps = g.r * g.s;
  const int64_t plane_in = g.h * g.w, plane_out = g.oh * g.ow;
  const PaddedPlane pp = padded_plane(g);
  parallel_for_vectorised(
      g.k,
      [&](int64_t k) {
        thread_local std::vector<float> padded_buffer, wide_buffer;
        float* padded = scratch(padded_buffer, pp.size);
        float* grad_wide = scratch(wide_buffer, pp.wide);
        std::vector<double> sums(static_cast<size_t>(taps), 0.0);
        for (int64_t image = 0; image < g.n; ++image) {
          pad_plane(g, pp, x + (image * g.c + k / kg) * plane_in, padded);
          widen_plane(g, pp, dy + (image * g.k + k) * plane_out, grad_wide);
          for (int64_t r = 0; r < g.r; ++r)
            for (int64_t s = 0; s < g.s; ++s) {
              const float* in = padded + tap_offset(g, pp, r, s);
              // Four interleaved partial sums in a fixed order (see the general loop below).
              double lane[4] = {0.0, 0.0, 0.0, 0.0};
              int64_t i = 0;
              for (; i + 4 <= pp.wide; i += 4)
                for (int l = 0; l < 4; ++l)
                  lane[l] += static_cast<double>(grad_wide[i + l]) * in[i + l];
              for (; i < pp.wide; ++i) lane[0] += static_cast<double>(grad_wide[i]) * in[i];
              sums[static_cast<size_t>(r * g.s + s)] += (lane[0] + lane[1]) + (lane[2] + lane[3]);
            }
        }
        for (int64_t t = 0; t < taps; ++t)
          dw[k * taps + t] = static_cast<float>(sums[static_cast<size_t>(t)]);
      },
      g.n * g.k * pp.wide * taps);
}

}  // namespace

void depthwise_conv2d_forward(const Conv2dGeometry& g, const float* x, const float* w,
                              const float* bias, float* y) {
  if (stride_one(g)) return forward_stride_one(g, x, w, bias, y);
  const int64_t kg = g.out_channels_per_group();
  const int64_t plane_in = g.h * g.w, plane_out = g.oh * g.ow;
  const std::vector<Span> spans = column_spans(g);
  parallel_for_vectorised(
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
              const Span q = spans[static_cast<size_t>(s)];
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
  if (stride_one(g)) return backward_data_stride_one(g, dy, w, dx);
  const int64_t kg = g.out_channels_per_group();
  const int64_t plane_in = g.h * g.w, plane_out = g.oh * g.ow;
  const std::vector<Span> spans = column_spans(g);
  parallel_for_vectorised(
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
                const Span q = spans[static_cast<size_t>(s)];
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
  if (stride_one(g)) return backward_weight_stride_one(g, x, dy, dw);
  const int64_t kg = g.out_channels_per_group(), taps = g.r * g.s;
  const int64_t plane_in = g.h * g.w, plane_out = g.oh * g.ow;
  const std::vector<Span> spans = column_spans(g);
  parallel_for_vectorised(
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
                const Span q = spans[static_cast<size_t>(s)];
                // Four interleaved partial sums, added in a fixed order: the same bits at any
                // thread count, and a loop the compiler can vectorise (one running sum cannot).
                double lane[4] = {0.0, 0.0, 0.0, 0.0};
                int64_t j = q.begin;
                for (; j + 4 <= q.end; j += 4)
                  for (int l = 0; l < 4; ++l)
                    lane[l] += static_cast<double>(grad_row[j + l]) *
                               in_row[(j + l) * g.stride_w + offset];
                for (; j < q.end; ++j)
                  lane[0] += static_cast<double>(grad_row[j]) * in_row[j * g.stride_w + offset];
                sums[static_cast<size_t>(r * g.s + s)] += (lane[0] + lane[1]) + (lane[2] + lane[3]);
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
