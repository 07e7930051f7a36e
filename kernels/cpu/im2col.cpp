#include "kernels/cpu/im2col.hpp"

#include <algorithm>
#include <cstring>

namespace kestrel::cpu {

namespace {

// For one kernel column offset (ks * dilation - pad), the output columns [begin, end) whose
// input column ow * stride + offset lies inside [0, w); the others read padding.
struct ValidColumns {
  int64_t begin, end;
};

ValidColumns valid_columns(int64_t offset, int64_t stride, int64_t w, int64_t ow) {
  const int64_t begin = offset >= 0 ? 0 : std::min(ow, (-offset + stride - 1) / stride);
  const int64_t end = w - offset <= 0 ? 0 : std::min(ow, (w - offset + stride - 1) / stride);
  return {begin, std::max(begin, end)};
}

// No padding, stride 1, no dilation (LeNet's convolutions): every column-matrix row is an
// oh x ow window of one input plane, copied row by row with no bounds to check.
void im2col_dense(const kernels::Conv2dGeometry& g, int64_t channels, const float* x, float* col) {
  const int64_t plane = g.h * g.w;
  for (int64_t ci = 0; ci < channels; ++ci) {
    for (int64_t kr = 0; kr < g.r; ++kr) {
      for (int64_t ks = 0; ks < g.s; ++ks) {
        const float* in = x + ci * plane + kr * g.w + ks;
        for (int64_t oh = 0; oh < g.oh; ++oh, in += g.w, col += g.ow)
          for (int64_t ow = 0; ow < g.ow; ++ow) col[ow] = in[ow];
      }
    }
  }
}

// col2im for the same case: the same additions in the same order as the general loop.
void col2im_dense(const kernels::Conv2dGeometry& g, int64_t channels, const float* col, float* dx) {
  const int64_t plane = g.h * g.w;
  for (int64_t ci = 0; ci < channels; ++ci) {
    for (int64_t kr = 0; kr < g.r; ++kr) {
      for (int64_t ks = 0; ks < g.s; ++ks) {
        float* out = dx + ci * plane + kr * g.w + ks;
        for (int64_t oh = 0; oh < g.oh; ++oh, out += g.w, col += g.ow)
          for (int64_t ow = 0; ow < g.ow; ++ow) out[ow] += col[ow];
      }
    }
  }
}

bool is_dense(const kernels::Conv2dGeometry& g) {
  return g.pad_h == 0 && g.pad_w == 0 && g.stride_h == 1 && g.stride_w == 1 && g.dilation_h == 1 &&
         g.dilation_w == 1;
}

}  // namespace

void im2col(const kernels::Conv2dGeometry& g, int64_t channels, const float* x, float* col) {
  if (is_dense(g)) {
    im2col_dense(g, channels, x, col);
    return;
  }
  const int64_t plane = g.h * g.w, positions = g.oh * g.ow;
  for (int64_t ci = 0; ci < channels; ++ci) {
    const float* x_plane = x + ci * plane;
    for (int64_t kr = 0; kr < g.r; ++kr) {
      const int64_t row_offset = kr * g.dilation_h - g.pad_h;
      for (int64_t ks = 0; ks < g.s; ++ks, col += positions) {
        const int64_t col_offset = ks * g.dilation_w - g.pad_w;
        const ValidColumns valid = valid_columns(col_offset, g.stride_w, g.w, g.ow);
        for (int64_t oh = 0; oh < g.oh; ++oh) {
          float* out = col + oh * g.ow;
          const int64_t ih = oh * g.stride_h + row_offset;
          if (ih < 0 || ih >= g.h) {
            std::fill(out, out + g.ow, 0.0f);
            continue;
          }
          const float* in = x_plane + ih * g.w;
          std::fill(out, out + valid.begin, 0.0f);
          if (g.stride_w == 1) {
            std::memcpy(out + valid.begin, in + valid.begin + col_offset,
                        static_cast<size_t>(valid.end - valid.begin) * sizeof(float));
          } else {
            for (int64_t ow = valid.begin; ow < valid.end; ++ow)
              out[ow] = in[ow * g.stride_w + col_offset];
          }
          std::fill(out + valid.end, out + g.ow, 0.0f);
        }
      }
    }
  }
}

void col2im(const kernels::Conv2dGeometry& g, int64_t channels, const float* col, float* dx) {
  const int64_t plane = g.h * g.w, positions = g.oh * g.ow;
  std::fill(dx, dx + channels * plane, 0.0f);
  if (is_dense(g)) {
    col2im_dense(g, channels, col, dx);
    return;
  }
  for (int64_t ci = 0; ci < channels; ++ci) {
    float* dx_plane = dx + ci * plane;
    for (int64_t kr = 0; kr < g.r; ++kr) {
      const int64_t row_offset = kr * g.dilation_h - g.pad_h;
      for (int64_t ks = 0; ks < g.s; ++ks, col += positions) {
        const int64_t col_offset = ks * g.dilation_w - g.pad_w;
        const ValidColumns valid = valid_columns(col_offset, g.stride_w, g.w, g.ow);
        for (int64_t oh = 0; oh < g.oh; ++oh) {
          const int64_t ih = oh * g.stride_h + row_offset;
          if (ih < 0 || ih >= g.h) continue;
          const float* in = col + oh * g.ow;
          float* out = dx_plane + ih * g.w;
          if (g.stride_w == 1) {
            for (int64_t ow = valid.begin; ow < valid.end; ++ow) out[ow + col_offset] += in[ow];
          } else {
            for (int64_t ow = valid.begin; ow < valid.end; ++ow)
              out[ow * g.stride_w + col_offset] += in[ow];
          }
        }
      }
    }
  }
}

}  // namespace kestrel::cpu
