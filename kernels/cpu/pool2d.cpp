#include "kernels/cpu/pool2d.hpp"

#include <algorithm>
#include <cmath>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include "kernels/cpu/parallel.hpp"

namespace kestrel::cpu {

namespace {

using kernels::max_pool_takes;
using kernels::Pool2dGeometry;

// One step of a window scan, written as selects so that it compiles without branches.
inline void scan(float v, int index, float& best, int& best_index) {
  const bool takes = max_pool_takes(v, best);
  best = takes ? v : best;
  best_index = takes ? index : best_index;
}

// Any geometry: MaxPool2dForward's window bounds, computed per row and column instead of from a
// flat index.
void max_pool_plane(const Pool2dGeometry& g, const float* x, float* y, int32_t* argmax) {
  for (int oh = 0; oh < g.out_h; ++oh) {
    const int h_start = oh * g.stride_h - g.pad_h;
    const int h0 = std::max(h_start, 0), h1 = std::min(h_start + g.kernel_h, g.in_h);
    for (int ow = 0; ow < g.out_w; ++ow) {
      const int w_start = ow * g.stride_w - g.pad_w;
      const int w0 = std::max(w_start, 0), w1 = std::min(w_start + g.kernel_w, g.in_w);
      float best = -INFINITY;
      int best_index = h0 * g.in_w + w0;
      for (int h = h0; h < h1; ++h)
        for (int w = w0; w < w1; ++w) scan(x[h * g.in_w + w], h * g.in_w + w, best, best_index);
      y[oh * g.out_w + ow] = best;
      argmax[oh * g.out_w + ow] = best_index;
    }
  }
}

// 2x2 windows at stride 2 that all lie inside the input (LeNet's pooling): the same scan, in
// the same order, unrolled.
bool is_inner_2x2(const Pool2dGeometry& g) {
  return g.kernel_h == 2 && g.kernel_w == 2 && g.stride_h == 2 && g.stride_w == 2 && g.pad_h == 0 &&
         g.pad_w == 0 && 2 * g.out_h <= g.in_h && 2 * g.out_w <= g.in_w;
}

#if defined(__SSE2__)
// Four windows side by side in SSE lanes: the same comparisons and selects per lane.
struct Scan4 {
  __m128 best = _mm_set1_ps(-INFINITY);
  __m128i best_index;
  void step(__m128 v, __m128i index) {
    const __m128 takes = _mm_or_ps(_mm_cmpgt_ps(v, best), _mm_cmpunord_ps(v, v));
    best = _mm_or_ps(_mm_and_ps(takes, v), _mm_andnot_ps(takes, best));
    const __m128i mask = _mm_castps_si128(takes);
    best_index = _mm_or_si128(_mm_and_si128(mask, index), _mm_andnot_si128(mask, best_index));
  }
};
#endif

void max_pool_plane_2x2(const Pool2dGeometry& g, const float* x, float* y, int32_t* argmax) {
  for (int oh = 0; oh < g.out_h; ++oh) {
    const int top = 2 * oh * g.in_w, bottom = top + g.in_w;
    float* y_row = y + oh * g.out_w;
    int32_t* argmax_row = argmax + oh * g.out_w;
    int ow = 0;
#if defined(__SSE2__)
    for (; ow + 4 <= g.out_w; ow += 4) {
      const int left = 2 * ow;
      // Lanes hold windows ow..ow+3: their left columns are the even ones of 8 loaded values.
      const __m128 t0 = _mm_loadu_ps(x + top + left), t1 = _mm_loadu_ps(x + top + left + 4);
      const __m128 b0 = _mm_loadu_ps(x + bottom + left), b1 = _mm_loadu_ps(x + bottom + left + 4);
      const __m128i top_left =
          _mm_add_epi32(_mm_set1_epi32(top + left), _mm_setr_epi32(0, 2, 4, 6));
      const __m128i bottom_left = _mm_add_epi32(top_left, _mm_set1_epi32(g.in_w));
      const __m128i one = _mm_set1_epi32(1);
      Scan4 s;
      s.best_index = top_left;
      s.step(_mm_shuffle_ps(t0, t1, _MM_SHUFFLE(2, 0, 2, 0)), top_left);
      s.step(_mm_shuffle_ps(t0, t1, _MM_SHUFFLE(3, 1, 3, 1)), _mm_add_epi32(top_left, one));
      s.step(_mm_shuffle_ps(b0, b1, _MM_SHUFFLE(2, 0, 2, 0)), bottom_left);
      s.step(_mm_shuffle_ps(b0, b1, _MM_SHUFFLE(3, 1, 3, 1)), _mm_add_epi32(bottom_left, one));
      _mm_storeu_ps(y_row + ow, s.best);
      _mm_storeu_si128(reinterpret_cast<__m128i*>(argmax_row + ow), s.best_index);
    }
#endif
    for (; ow < g.out_w; ++ow) {
      const int left = 2 * ow;
      float best = -INFINITY;
      int best_index = top + left;
      scan(x[top + left], top + left, best, best_index);
      scan(x[top + left + 1], top + left + 1, best, best_index);
      scan(x[bottom + left], bottom + left, best, best_index);
      scan(x[bottom + left + 1], bottom + left + 1, best, best_index);
      y_row[ow] = best;
      argmax_row[ow] = best_index;
    }
  }
}

// Stride-2 windows of any size that all lie inside the input (AlexNet's 3x3 pools): four
// windows side by side in SSE lanes as in the 2x2 path, each scanned in the same row-major
// order as max_pool_plane. Column kw of windows ow..ow+3 is every other value of the eight
// from 2*ow + kw; a group runs in lanes only while those eight lie in the row.
bool is_inner_stride2(const Pool2dGeometry& g) {
  return g.stride_h == 2 && g.stride_w == 2 && g.pad_h == 0 && g.pad_w == 0 &&
         2 * (g.out_h - 1) + g.kernel_h <= g.in_h && 2 * (g.out_w - 1) + g.kernel_w <= g.in_w;
}

void max_pool_plane_stride2(const Pool2dGeometry& g, const float* x, float* y,
                            int32_t* argmax) {
  for (int oh = 0; oh < g.out_h; ++oh) {
    const int top = 2 * oh * g.in_w;
    float* y_row = y + oh * g.out_w;
    int32_t* argmax_row = argmax + oh * g.out_w;
    int ow = 0;
#if defined(__SSE2__)
    const __m128i lanes = _mm_setr_epi32(0, 2, 4, 6);
    for (; ow + 4 <= g.out_w && 2 * ow + g.kernel_w + 6 < g.in_w; ow += 4) {
      Scan4 s;
      s.best_index = _mm_add_epi32(_mm_set1_epi32(top + 2 * ow), lanes);
      for (int kh = 0; kh < g.kernel_h; ++kh) {
        for (int kw = 0; kw < g.kernel_w; ++kw) {
          const int first = top + kh * g.in_w + 2 * ow + kw;
          const __m128 a = _mm_loadu_ps(x + first), b = _mm_loadu_ps(x + first + 4);
          s.step(_mm_shuffle_ps(a, b, _MM_SHUFFLE(2, 0, 2, 0)),
                 _mm_add_epi32(_mm_set1_epi32(first), lanes));
        }
      }
      _mm_storeu_ps(y_row + ow, s.best);
      _mm_storeu_si128(reinterpret_cast<__m128i*>(argmax_row + ow), s.best_index);
    }
#endif
    for (; ow < g.out_w; ++ow) {
      float best = -INFINITY;
      int best_index = top + 2 * ow;
      for (int kh = 0; kh < g.kernel_h; ++kh) {
        for (int kw = 0; kw < g.kernel_w; ++kw) {
          const int index = top + kh * g.in_w + 2 * ow + kw;
          scan(x[index], index, best, best_index);
        }
      }
      y_row[ow] = best;
      argmax_row[ow] = best_index;
    }
  }
}

}  // namespace

void max_pool2d_forward(const Pool2dGeometry& g, const float* x, float* y, int32_t* argmax) {
  const int64_t in_plane = static_cast<int64_t>(g.in_h) * g.in_w;
  const int64_t out_plane = static_cast<int64_t>(g.out_h) * g.out_w;
  const auto plane_kernel = is_inner_2x2(g)       ? max_pool_plane_2x2
                            : is_inner_stride2(g) ? max_pool_plane_stride2
                                                  : max_pool_plane;
  parallel_for(
      g.planes,
      [&](int64_t p) {
        plane_kernel(g, x + p * in_plane, y + p * out_plane, argmax + p * out_plane);
      },
      g.planes * out_plane * g.kernel_h * g.kernel_w);
}

void max_pool2d_backward(const Pool2dGeometry& g, const float* dy, const int32_t* argmax,
                         float* dx) {
  const int64_t in_plane = static_cast<int64_t>(g.in_h) * g.in_w;
  const int64_t out_plane = static_cast<int64_t>(g.out_h) * g.out_w;
  parallel_for(
      g.planes,
      [&](int64_t p) {
        float* dx_plane = dx + p * in_plane;
        const float* dy_plane = dy + p * out_plane;
        const int32_t* argmax_plane = argmax + p * out_plane;
        std::fill(dx_plane, dx_plane + in_plane, 0.0f);
        for (int64_t o = 0; o < out_plane; ++o) {
          const int64_t target = argmax_plane[o];
          if (target >= 0 && target < in_plane) dx_plane[target] += dy_plane[o];
        }
      },
      g.planes * (in_plane + out_plane));
}

}  // namespace kestrel::cpu
