#pragma once
// A float64 reference of the layers, in plain loops, for the graph tests: the oracle the
// graph's forward and its gradients (by central differences) are checked against. Written from
// PyTorch's definitions, sharing no code with kestrel's kernels.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

#include "kernels/common/philox.hpp"

namespace kestrel::test {

// An NCHW activation (2-D ones have h = w = 1).
struct Act {
  std::vector<double> v;
  int64_t n = 0, c = 0, h = 1, w = 1;
  double& at(int64_t i, int64_t j, int64_t y, int64_t x) {
    return v[((i * c + j) * h + y) * w + x];
  }
  double at(int64_t i, int64_t j, int64_t y, int64_t x) const {
    return v[((i * c + j) * h + y) * w + x];
  }
};

inline Act make_act(int64_t n, int64_t c, int64_t h, int64_t w) {
  return Act{std::vector<double>(static_cast<size_t>(n * c * h * w), 0.0), n, c, h, w};
}

// w [k, x.c, ks, ks], b [k].
inline Act conv2d_ref(const Act& x, const double* w, const double* b, int64_t k, int64_t ks,
                      int64_t stride, int64_t pad) {
  const int64_t oh = (x.h + 2 * pad - ks) / stride + 1, ow = (x.w + 2 * pad - ks) / stride + 1;
  Act y = make_act(x.n, k, oh, ow);
  for (int64_t i = 0; i < x.n; ++i)
    for (int64_t o = 0; o < k; ++o)
      for (int64_t p = 0; p < oh; ++p)
        for (int64_t q = 0; q < ow; ++q) {
          double s = b[o];
          for (int64_t c = 0; c < x.c; ++c)
            for (int64_t r = 0; r < ks; ++r)
              for (int64_t t = 0; t < ks; ++t) {
                const int64_t yy = p * stride - pad + r, xx = q * stride - pad + t;
                if (yy < 0 || yy >= x.h || xx < 0 || xx >= x.w) continue;
                s += x.at(i, c, yy, xx) * w[((o * x.c + c) * ks + r) * ks + t];
              }
          y.at(i, o, p, q) = s;
        }
  return y;
}

inline Act relu_ref(Act x) {
  for (double& v : x.v) v = v > 0.0 ? v : 0.0;
  return x;
}

inline Act tanh_ref(Act x) {
  for (double& v : x.v) v = std::tanh(v);
  return x;
}

// No padding.
inline Act pool_ref(const Act& x, int64_t ks, int64_t stride, bool max) {
  const int64_t oh = (x.h - ks) / stride + 1, ow = (x.w - ks) / stride + 1;
  Act y = make_act(x.n, x.c, oh, ow);
  for (int64_t i = 0; i < x.n; ++i)
    for (int64_t c = 0; c < x.c; ++c)
      for (int64_t p = 0; p < oh; ++p)
        for (int64_t q = 0; q < ow; ++q) {
          double acc = max ? -INFINITY : 0.0;
          for (int64_t r = 0; r < ks; ++r)
            for (int64_t t = 0; t < ks; ++t) {
              const double v = x.at(i, c, p * stride + r, q * stride + t);
              acc = max ? std::max(acc, v) : acc + v;
            }
          y.at(i, c, p, q) = max ? acc : acc / static_cast<double>(ks * ks);
        }
  return y;
}

inline Act adaptive_avg_ref(const Act& x, int64_t oh, int64_t ow) {
  Act y = make_act(x.n, x.c, oh, ow);
  for (int64_t i = 0; i < x.n; ++i)
    for (int64_t c = 0; c < x.c; ++c)
      for (int64_t p = 0; p < oh; ++p)
        for (int64_t q = 0; q < ow; ++q) {
          const int64_t h0 = p * x.h / oh, h1 = ((p + 1) * x.h + oh - 1) / oh;
          const int64_t w0 = q * x.w / ow, w1 = ((q + 1) * x.w + ow - 1) / ow;
          double s = 0.0;
          for (int64_t r = h0; r < h1; ++r)
            for (int64_t t = w0; t < w1; ++t) s += x.at(i, c, r, t);
          y.at(i, c, p, q) = s / static_cast<double>((h1 - h0) * (w1 - w0));
        }
  return y;
}

inline Act lrn_ref(const Act& x, int64_t size, double alpha, double beta, double k) {
  Act y = x;
  for (int64_t i = 0; i < x.n; ++i)
    for (int64_t c = 0; c < x.c; ++c)
      for (int64_t p = 0; p < x.h; ++p)
        for (int64_t q = 0; q < x.w; ++q) {
          double s = 0.0;
          for (int64_t j = c - size / 2; j <= c + (size - 1) / 2; ++j)
            if (j >= 0 && j < x.c) s += x.at(i, j, p, q) * x.at(i, j, p, q);
          y.at(i, c, p, q) = x.at(i, c, p, q) / std::pow(k + alpha / size * s, beta);
        }
  return y;
}

inline Act flatten_ref(Act x) {
  x.c = x.c * x.h * x.w;
  x.h = x.w = 1;
  return x;
}

// Keeps element i iff uniform(seed, stream, i) >= p, as documented for ops::dropout.
inline Act dropout_ref(Act x, double p, uint64_t seed, uint64_t stream) {
  for (size_t i = 0; i < x.v.size(); ++i)
    x.v[i] = rng::uniform(seed, stream, i) >= p ? x.v[i] / (1.0 - p) : 0.0;
  return x;
}

// w [out, x.c], b [out].
inline Act linear_ref(const Act& x, const double* w, const double* b, int64_t out) {
  Act y = make_act(x.n, out, 1, 1);
  for (int64_t i = 0; i < x.n; ++i)
    for (int64_t o = 0; o < out; ++o) {
      double s = b[o];
      for (int64_t j = 0; j < x.c; ++j) s += x.v[static_cast<size_t>(i * x.c + j)] * w[o * x.c + j];
      y.v[static_cast<size_t>(i * out + o)] = s;
    }
  return y;
}

// Element-wise sum of same-shaped activations (a residual connection).
inline Act add_ref(Act a, const Act& b) {
  for (size_t i = 0; i < a.v.size(); ++i) a.v[i] += b.v[i];
  return a;
}

// torch.cat(parts, dim=1).
inline Act concat_ref(const std::vector<Act>& parts) {
  int64_t channels = 0;
  for (const Act& p : parts) channels += p.c;
  Act y = make_act(parts[0].n, channels, parts[0].h, parts[0].w);
  for (int64_t i = 0; i < y.n; ++i) {
    int64_t base = 0;
    for (const Act& p : parts) {
      for (int64_t c = 0; c < p.c; ++c)
        for (int64_t r = 0; r < p.h; ++r)
          for (int64_t t = 0; t < p.w; ++t) y.at(i, base + c, r, t) = p.at(i, c, r, t);
      base += p.c;
    }
  }
  return y;
}

// Mean over the rows of -log softmax(logits)[label].
inline double cross_entropy_ref(const Act& logits, const std::vector<int32_t>& labels) {
  double total = 0.0;
  for (int64_t i = 0; i < logits.n; ++i) {
    const double* row = logits.v.data() + i * logits.c;
    const double m = *std::max_element(row, row + logits.c);
    double z = 0.0;
    for (int64_t j = 0; j < logits.c; ++j) z += std::exp(row[j] - m);
    total += m + std::log(z) - row[labels[static_cast<size_t>(i)]];
  }
  return total / static_cast<double>(logits.n);
}

// ---- The activations and small ops of SE blocks, ResNet-20 and the MobileNets ----------------

inline Act sigmoid_ref(Act x) {
  for (double& v : x.v) v = 1.0 / (1.0 + std::exp(-v));
  return x;
}

inline Act silu_ref(Act x) {
  for (double& v : x.v) v = v / (1.0 + std::exp(-v));
  return x;
}

// torch.nn.GELU: approximate 'none' (erf) or 'tanh'.
inline Act gelu_ref(Act x, bool tanh_approximation) {
  const double pi = 3.14159265358979323846;
  for (double& v : x.v)
    v = tanh_approximation
            ? 0.5 * v * (1.0 + std::tanh(std::sqrt(2.0 / pi) * (v + 0.044715 * v * v * v)))
            : 0.5 * v * (1.0 + std::erf(v / std::sqrt(2.0)));
  return x;
}

inline Act hardswish_ref(Act x) {
  for (double& v : x.v) v = v * std::min(std::max(v + 3.0, 0.0), 6.0) / 6.0;
  return x;
}

inline Act relu6_ref(Act x) {
  for (double& v : x.v) v = std::min(std::max(v, 0.0), 6.0);
  return x;
}

// x * s with s [n, c, 1, 1] (torchvision's SqueezeExcitation: scale * input).
inline Act scale_channels_ref(Act x, const Act& s) {
  for (int64_t i = 0; i < x.n; ++i)
    for (int64_t c = 0; c < x.c; ++c)
      for (int64_t p = 0; p < x.h; ++p)
        for (int64_t q = 0; q < x.w; ++q) x.at(i, c, p, q) *= s.at(i, c, 0, 0);
  return x;
}

// F.pad(x[:, :, ::stride, ::stride], (0, 0, 0, 0, before, after)): ResNet's option A shortcut.
inline Act zero_pad_shortcut_ref(const Act& x, int64_t stride, int64_t before, int64_t after) {
  Act y =
      make_act(x.n, before + x.c + after, (x.h + stride - 1) / stride, (x.w + stride - 1) / stride);
  for (int64_t i = 0; i < x.n; ++i)
    for (int64_t c = 0; c < x.c; ++c)
      for (int64_t p = 0; p < y.h; ++p)
        for (int64_t q = 0; q < y.w; ++q)
          y.at(i, before + c, p, q) = x.at(i, c, p * stride, q * stride);
  return y;
}

}  // namespace kestrel::test
