#pragma once
// Index arithmetic shared by the pooling functors, whose elements are laid out as a stack of
// H x W planes (one per image and channel).
#include <cstdint>

#include "kernels/common/hd.hpp"

namespace kestrel::kernels {

// Element i of a stack of height x width planes: its plane, row and column.
struct PlaneIndex {
  int64_t plane;
  int row, col;
};

KESTREL_HD_INLINE PlaneIndex split_plane_index(int64_t i, int height, int width) {
  const int64_t area = static_cast<int64_t>(height) * width;
  const int64_t plane = i / area;
  const int offset = static_cast<int>(i - plane * area);
  return {plane, offset / width, offset % width};
}

// Sum of p[h][w] over rows [h0, h1) and columns [w0, w1) of a plane `width` wide, row by row.
KESTREL_HD_INLINE float sum_window(const float* p, int width, int h0, int h1, int w0, int w1) {
  float sum = 0.0f;
  for (int h = h0; h < h1; ++h)
    for (int w = w0; w < w1; ++w) sum += p[h * width + w];
  return sum;
}

}  // namespace kestrel::kernels
