#pragma once
// A Vision Transformer's token ops (torchvision.models.VisionTransformer._process_input and
// forward): f32 tensors on the context's device, outputs preallocated and overwritten, each
// gradient output optional (null: not wanted). Functors: kernels/common/tokens.hpp.
#include <cstdint>

#include "engine/runtime/context.hpp"
#include "engine/tensor/tensor.hpp"

namespace kestrel::ops {

// x [N, D, h, w] (conv_proj's output) -> y [N, h * w, D]: x.reshape(N, D, h * w).permute(0, 2, 1).
void patch_tokens_forward(const Context& ctx, const Tensor& x, Tensor& y);
// dy [N, h * w, D] -> dx [N, D, h, w].
void patch_tokens_backward(const Context& ctx, const Tensor& dy, Tensor& dx);

// y [N, T + 1, D] = cat(token.expand(N, 1, D), x [N, T, D]) along the tokens; token [1, 1, D].
void class_token_forward(const Context& ctx, const Tensor& x, const Tensor& token, Tensor& y);
// dx = dy[:, 1:], dtoken = sum over the batch of dy[:, 0] ([1, 1, D]).
void class_token_backward(const Context& ctx, const Tensor& dy, Tensor* dx, Tensor* dtoken);

// y = x + pos for x [N, T, D] and pos [1, T, D]; y may be x.
void position_embedding_forward(const Context& ctx, const Tensor& x, const Tensor& pos, Tensor& y);
// dx = dy (dx may be dy: nothing to do), dpos = sum over the batch of dy ([1, T, D]).
void position_embedding_backward(const Context& ctx, const Tensor& dy, Tensor* dx, Tensor* dpos);

// y [N, D] = x [N, T, D][:, index], 0 <= index < T.
void select_token_forward(const Context& ctx, const Tensor& x, int64_t index, Tensor& y);
// dx [N, T, D]: dy at token `index`, zeros elsewhere.
void select_token_backward(const Context& ctx, const Tensor& dy, int64_t index, Tensor& dx);

}  // namespace kestrel::ops
