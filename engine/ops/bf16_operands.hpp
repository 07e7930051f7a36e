#pragma once
// The bf16 operands of a convolution or matrix product under MathOptions::bf16, made from f32
// tensors just before the library call and turned back into f32 right after it. A GPU packs
// real 16-bit operands (channels-last for cuDNN when asked); the CPU rounds f32 copies to the
// nearest bf16 and runs its f32 kernels on them, which makes it the GPU path's oracle.
#include "engine/runtime/context.hpp"
#include "engine/tensor/tensor.hpp"

namespace kestrel::ops::detail {

// A tensor seen as [outer, channels, plane]: NCHW activations are (N, C, H*W), KCRS filters
// (K, C/groups, R*S), matrices (rows*cols, 1, 1).
struct PlaneLayout {
  int64_t channels = 1, plane = 1;
};

// CPU: an f32 copy of `x` with every element rounded to the nearest bf16 (scratch memory).
Tensor rounded_to_bf16(const Context& ctx, const Tensor& x);
// CPU: y = bf16(y), plus bias[channel] after the rounding where there is a bias (cuDNN's bf16
// output is rounded before the f32 bias is added to it).
void round_to_bf16_in_place(const Context& ctx, Tensor& y, const Tensor* bias,
                            const PlaneLayout& layout);

// GPU: `x` as bf16 bits in scratch memory, channels-last when `channels_last`.
Tensor packed_bf16(const Context& ctx, const Tensor& x, const PlaneLayout& layout,
                   bool channels_last);
// GPU: scratch for a bf16 result with as many elements as `like`.
Tensor bf16_result(const Context& ctx, const Tensor& like);
// GPU: y = f32(packed) (+ bias[channel]); `packed` in the order packed_bf16 wrote it.
void unpack_bf16(const Context& ctx, const Tensor& packed, Tensor& y, const Tensor* bias,
                 const PlaneLayout& layout, bool channels_last);

}  // namespace kestrel::ops::detail
