#pragma once
// The geometry of a 2-D convolution (PyTorch's conv2d), shared by the CPU kernels and, later,
// the CUDA/cuDNN path. Plain structs: no engine types, usable from device code.
//
// Layouts (row-major): input x [n, c, h, w], weight [k, c / groups, r, s], output y [n, k, oh, ow].
#include <cstdint>

#include "kernels/common/hd.hpp"

namespace kestrel::kernels {

// What the user chooses: PyTorch's stride, padding, dilation and groups, per spatial axis.
struct Conv2dSpec {
  int stride_h = 1, stride_w = 1;
  int pad_h = 0, pad_w = 0;
  int dilation_h = 1, dilation_w = 1;
  int groups = 1;
};

// Output extent along one axis: floor((in + 2 pad - dilation (kernel - 1) - 1) / stride) + 1.
// Only meaningful when the dilated kernel fits the padded input.
KESTREL_HD_INLINE int64_t conv2d_output_extent(int64_t in, int64_t kernel, int stride, int pad,
                                               int dilation) {
  return (in + 2 * pad - static_cast<int64_t>(dilation) * (kernel - 1) - 1) / stride + 1;
}

// Every size a convolution kernel needs, derived once by the op from the tensors' shapes.
struct Conv2dGeometry {
  int64_t n = 0, c = 0, h = 0, w = 0;  // input
  int64_t k = 0, r = 0, s = 0;         // output channels, kernel height and width
  int64_t oh = 0, ow = 0;              // output spatial size
  int stride_h = 1, stride_w = 1;
  int pad_h = 0, pad_w = 0;
  int dilation_h = 1, dilation_w = 1;
  int groups = 1;

  KESTREL_HD int64_t channels_per_group() const { return c / groups; }
  KESTREL_HD int64_t out_channels_per_group() const { return k / groups; }
  // Rows of one group's im2col matrix (= the GEMM reduction length of the forward pass).
  KESTREL_HD int64_t col_rows() const { return (c / groups) * r * s; }
  // Columns of the im2col matrix: one per output position.
  KESTREL_HD int64_t col_cols() const { return oh * ow; }
  KESTREL_HD int64_t input_image_size() const { return c * h * w; }
  KESTREL_HD int64_t output_image_size() const { return k * oh * ow; }
  KESTREL_HD int64_t weight_size() const { return k * (c / groups) * r * s; }
  // A 1x1 kernel with stride 1 and no padding reads the input as its own im2col matrix.
  KESTREL_HD bool is_pointwise() const {
    return r == 1 && s == 1 && stride_h == 1 && stride_w == 1 && pad_h == 0 && pad_w == 0;
  }
};

// Fills the geometry from the input and weight extents and the spec; the caller has checked
// that the sizes are consistent.
KESTREL_HD_INLINE Conv2dGeometry make_conv2d_geometry(int64_t n, int64_t c, int64_t h, int64_t w,
                                                      int64_t k, int64_t r, int64_t s,
                                                      const Conv2dSpec& spec) {
  Conv2dGeometry g;
  g.n = n, g.c = c, g.h = h, g.w = w, g.k = k, g.r = r, g.s = s;
  g.stride_h = spec.stride_h, g.stride_w = spec.stride_w;
  g.pad_h = spec.pad_h, g.pad_w = spec.pad_w;
  g.dilation_h = spec.dilation_h, g.dilation_w = spec.dilation_w;
  g.groups = spec.groups;
  g.oh = conv2d_output_extent(h, r, spec.stride_h, spec.pad_h, spec.dilation_h);
  g.ow = conv2d_output_extent(w, s, spec.stride_w, spec.pad_w, spec.dilation_w);
  return g;
}

}  // namespace kestrel::kernels
