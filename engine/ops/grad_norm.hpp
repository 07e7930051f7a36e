#pragma once
// Gradient clipping by global norm over the flat gradient buffer (torch.nn.utils.
// clip_grad_norm_): total = ||g||_2; when total > max_norm, g *= max_norm / (total + 1e-6).
#include "engine/runtime/context.hpp"
#include "engine/tensor/tensor.hpp"

namespace kestrel::ops {

// The sum of the squares of x[0..n) into *out, a double in ctx's device memory, accumulated in
// double in a fixed order (the same bits run to run, and on the CPU at any thread count). No
// synchronisation: it stays on the device for the launches after it (Muon's norms).
void sum_squares(const Context& ctx, const float* x, int64_t n, double* out);

// ||x||_2 of an f32 tensor, accumulated in double in a fixed order (deterministic on each
// backend). Waits for the GPU: the result comes back to the host.
double l2_norm(const Context& ctx, const Tensor& x);

// Clips in place and returns the norm before clipping. max_norm must be positive.
double clip_grad_norm(const Context& ctx, Tensor& grads, double max_norm);

// The same clipping, bit for bit, without the norm coming back to the host: the squared norm
// stays in device memory and every element reads it (the training step; no synchronisation).
void clip_grad_norm_on_device(const Context& ctx, Tensor& grads, double max_norm);

}  // namespace kestrel::ops
