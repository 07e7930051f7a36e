#pragma once
// lrn: local response normalisation across channels, torch.nn.LocalResponseNorm's semantics
// (AlexNet's "LRN"): y_c = x_c / (k + alpha/size * sum of x_{c'}^2 over the channels
// c' in [c - size/2, c + (size-1)/2] that exist)^beta. Input [N, C, ...] with at least 3
// dimensions; the normalisation runs over dimension 1.
#include "engine/runtime/context.hpp"
#include "engine/tensor/tensor.hpp"

namespace kestrel::ops {

struct LrnSpec {
  int size = 5;
  float alpha = 1e-4f, beta = 0.75f, k = 2.0f;
};

// scale: the shape of x; receives k + alpha/size * sum, which the backward pass reuses.
void lrn_forward(const Context& ctx, const Tensor& x, Tensor& y, Tensor& scale,
                 const LrnSpec& spec);
// dx from the forward's input x, output y and scale; overwrites dx (which must not overlap the
// other tensors).
void lrn_backward(const Context& ctx, const Tensor& x, const Tensor& y, const Tensor& scale,
                  const Tensor& dy, Tensor& dx, const LrnSpec& spec);

}  // namespace kestrel::ops
