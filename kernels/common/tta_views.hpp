#pragma once
// Test-time augmentation (engine/train/tta.hpp): views of a normalised batch [B, C, H, W] and
// the weighted sum of their logits, as element functors.
//
// A view mirrors the image left-right (when flip is set) after shifting it by (dy, dx) pixels
// with reflection at the borders, PyTorch's F.pad(x, ..., mode="reflect") then a crop:
//   view[b, c, y, x] = src[b, c, reflect(y + dy), reflect(x' + dx)],  x' = flip ? W-1-x : x,
// where reflect(-1) = 1 and reflect(W) = W - 2 (the edge pixel is not repeated). |dy| < H and
// |dx| < W; a plane one pixel high or wide reflects onto its only pixel.
#include <cstdint>

#include "kernels/common/fp.hpp"
#include "kernels/common/hd.hpp"
#include "kernels/common/reflect.hpp"

namespace kestrel::kernels {

struct ShiftFlipView {
  const float* src;
  float* dst;  // must not overlap src
  int64_t height, width;
  int32_t dy, dx;
  int32_t flip;  // 0 or 1
  KESTREL_HD void operator()(int64_t i) const {
    const int64_t plane = height * width;
    const int64_t p = i / plane, r = i - p * plane;
    const int64_t y = r / width, x = r - y * width;
    const int64_t xs = flip != 0 ? width - 1 - x : x;
    dst[i] = src[p * plane + reflect_index(y + dy, height) * width + reflect_index(xs + dx, width)];
  }
};

// acc[i] = weight * x[i] for the first view, acc[i] + weight * x[i] after it: a multiply and
// an add rounded apart (fp.hpp), in the views' order, so both backends give the same bits.
struct AddWeighted {
  const float* x;
  float* acc;
  float weight;
  int32_t first;
  KESTREL_HD void operator()(int64_t i) const {
    const float term = fp::mul_rn(weight, x[i]);
    acc[i] = first != 0 ? term : fp::add_rn(acc[i], term);
  }
};

}  // namespace kestrel::kernels
