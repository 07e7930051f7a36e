#pragma once
// Patch whitening (Keller Jordan's airbench, after tysam-code's hlb-CIFAR10): a first
// convolution whose kh x kw filters are the eigenvectors of the covariance of the training
// images' kh x kw patches, each divided by sqrt(eigenvalue + eps), in pairs (v, -v) so that a
// ReLU or GELU after it keeps both signs. Its outputs are decorrelated, unit-scale features of
// every patch; frozen, it gives the layers after it a well-conditioned input from step 0.
//
// Exactly as airbench94's init_whitening_conv: patches at every position (stride 1, no
// padding) of the images as the model sees them (normalised), covariance P^T P / n without
// subtracting the mean, eigenvectors by decreasing eigenvalue, filters
//   w[k] = v_k / sqrt(lambda_k + eps),  w[c*kh*kw + k] = -w[k].
#include <cstdint>

#include "engine/runtime/context.hpp"
#include "engine/tensor/tensor.hpp"

namespace kestrel::init {

inline constexpr double kPatchWhiteningEps = 5e-4;

// The filters for `images` (f32 [N, C, H, W] on the host): f32 [2*C*kh*kw, C, kh, kw] on the
// host. Covariance and eigenvectors in double. Throws kestrel::Error for an empty batch, a
// window larger than the images or non-finite pixels.
Tensor patch_whitening_filters(const Tensor& images, int64_t kernel_h, int64_t kernel_w,
                               double eps = kPatchWhiteningEps);

// Fills the convolution weight `w` ([2*C*kh*kw, C, kh, kw], f32, ctx's device) with the
// filters of `images`; throws kestrel::Error when w has another shape.
void patch_whitening(const Context& ctx, Tensor& w, const Tensor& images,
                     double eps = kPatchWhiteningEps);

}  // namespace kestrel::init
