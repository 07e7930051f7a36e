#pragma once
// A Vision Transformer's token plumbing (torchvision.models.VisionTransformer): patches to tokens,
// the class token prepended, the position embedding added, one token selected. Pure copies and
// additions, one output element per call; backward passes are gathers (a parameter's gradient
// sums the batch in order, no atomics), so both backends give the same bits.
#include <cstdint>

#include "kernels/common/hd.hpp"

namespace kestrel::kernels {

// out [B, cols, rows] = in [B, rows, cols] with its last two dimensions swapped. Patches to
// tokens ([N, D, h*w] -> [N, h*w, D]) and back.
struct TransposeLastTwo {
  const float* in;
  float* out;
  int64_t rows, cols;  // of `in`
  KESTREL_HD void operator()(int64_t i) const {
    const int64_t plane = rows * cols;
    const int64_t b = i / plane, rem = i - b * plane;
    const int64_t c = rem / rows, r = rem - c * rows;  // out[b, c, r]
    out[i] = in[b * plane + r * cols + c];
  }
};

// y [N, T + 1, D]: token [D] at position 0 of every sample, then x [N, T, D].
struct PrependToken {
  const float* x;
  const float* token;
  float* y;
  int64_t tokens, features;  // T, D of x
  KESTREL_HD void operator()(int64_t i) const {
    const int64_t row = i / features, d = i - row * features;
    const int64_t n = row / (tokens + 1), t = row - n * (tokens + 1);
    y[i] = t == 0 ? token[d] : x[(n * tokens + t - 1) * features + d];
  }
};

// dx [N, T, D] = dy [N, T + 1, D] without its first token.
struct DropFirstToken {
  const float* dy;
  float* dx;
  int64_t tokens, features;  // T, D of dx
  KESTREL_HD void operator()(int64_t i) const {
    const int64_t row = i / features, d = i - row * features;
    const int64_t n = row / tokens, t = row - n * tokens;
    dx[i] = dy[(n * (tokens + 1) + t + 1) * features + d];
  }
};

// out[j] = sum over n of in[n * stride + j], samples added in order in double: the gradient of a
// parameter every sample reads (class token: j < D, stride (T + 1) * D; position embedding:
// j < T * D, stride T * D).
struct SumOverBatch {
  const float* in;
  float* out;
  int64_t batch, stride;
  KESTREL_HD void operator()(int64_t j) const {
    double sum = 0.0;
    for (int64_t n = 0; n < batch; ++n) sum += static_cast<double>(in[n * stride + j]);
    out[j] = static_cast<float>(sum);
  }
};

// y = x + pos for every sample: pos has one sample's `per_sample` elements. In place allowed.
struct AddToEverySample {
  const float* x;
  const float* pos;
  float* y;
  int64_t per_sample;
  KESTREL_HD void operator()(int64_t i) const { y[i] = x[i] + pos[i % per_sample]; }
};

// y [N, D] = x [N, T, D][:, index].
struct SelectTokenForward {
  const float* x;
  float* y;
  int64_t tokens, features, index;
  KESTREL_HD void operator()(int64_t i) const {
    const int64_t n = i / features, d = i - n * features;
    y[i] = x[(n * tokens + index) * features + d];
  }
};

// dx [N, T, D]: dy [N, D] at token `index`, zero elsewhere.
struct SelectTokenBackward {
  const float* dy;
  float* dx;
  int64_t tokens, features, index;
  KESTREL_HD void operator()(int64_t i) const {
    const int64_t row = i / features, d = i - row * features;
    const int64_t n = row / tokens, t = row - n * tokens;
    dx[i] = t == index ? dy[n * features + d] : 0.0f;
  }
};

}  // namespace kestrel::kernels
