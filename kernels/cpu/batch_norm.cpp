#include "kernels/cpu/batch_norm.hpp"

#include <cstdint>
#include <vector>

#include "kernels/cpu/parallel.hpp"

namespace kestrel::cpu {

namespace {

constexpr int kLanes = 8;

double lane_total(const double (&lane)[kLanes]) {
  return ((lane[0] + lane[1]) + (lane[2] + lane[3])) + ((lane[4] + lane[5]) + (lane[6] + lane[7]));
}

// Sums over one plane of a(j) and b(j) for the pair term(j) returns, value j in lane j % 8.
template <class Term>
void plane_sums(int64_t n, const Term& term, double& sum_a, double& sum_b) {
  double a[kLanes] = {}, b[kLanes] = {};
  int64_t j = 0;
  for (; j + kLanes <= n; j += kLanes) {
    for (int l = 0; l < kLanes; ++l) {
      double ta, tb;
      term(j + l, ta, tb);
      a[l] += ta;
      b[l] += tb;
    }
  }
  for (int l = 0; j + l < n; ++l) {
    double ta, tb;
    term(j + l, ta, tb);
    a[l] += ta;
    b[l] += tb;
  }
  sum_a = lane_total(a);
  sum_b = lane_total(b);
}

// Per-channel totals of plane partials [N, C, 2], planes added in n order; finish(c, a, b).
template <class Plane, class Finish>
void channel_sums(const kernels::BatchNormGeometry& g, const Plane& plane, const Finish& finish) {
  const int64_t planes = g.batch * g.channels;
  std::vector<double> partial(static_cast<size_t>(2 * planes));
  parallel_for_vectorised(
      planes,
      [&](int64_t p) {
        plane(p, partial[static_cast<size_t>(2 * p)], partial[static_cast<size_t>(2 * p + 1)]);
      },
      2 * planes * g.inner);
  parallel_for(
      g.channels,
      [&](int64_t c) {
        double a = 0.0, b = 0.0;
        for (int64_t n = 0; n < g.batch; ++n) {
          const size_t p = static_cast<size_t>(n * g.channels + c);
          a += partial[2 * p];
          b += partial[2 * p + 1];
        }
        finish(c, a, b);
      },
      2 * planes);
}

}  // namespace

void batch_norm_stats(const kernels::BatchNormGeometry& g, const float* x,
                      const kernels::BatchNormStatsOut& out) {
  const int64_t count = g.per_channel();
  const auto shift_of = [&](int64_t c) { return static_cast<double>(x[c * g.inner]); };
  channel_sums(
      g,
      [&](int64_t p, double& s1, double& s2) {
        const float* v = x + p * g.inner;
        const double shift = shift_of(p % g.channels);
        plane_sums(
            g.inner,
            [&](int64_t j, double& a, double& b) {
              const double d = static_cast<double>(v[j]) - shift;
              a = d;
              b = d * d;
            },
            s1, s2);
      },
      [&](int64_t c, double s1, double s2) {
        kernels::batch_norm_finish_stats(out, c, count, shift_of(c), s1, s2);
      });
}

void batch_norm_apply(const kernels::BatchNormApply& f) {
  const kernels::BatchNormGeometry& g = f.g;
  parallel_for_vectorised(
      g.batch * g.channels,
      [&](int64_t p) {
        const int64_t c = p % g.channels;
        const float mean = f.mean[c], scale = kernels::batch_norm_scale(f.weight, f.invstd, c);
        const float bias = f.bias != nullptr ? f.bias[c] : 0.0f;
        const float* x = f.x + p * g.inner;
        float* y = f.y + p * g.inner;
        if (f.relu) {
          for (int64_t j = 0; j < g.inner; ++j)
            y[j] = kernels::batch_norm_relu(kernels::batch_norm_apply_one(x[j], mean, scale, bias));
        } else {
          for (int64_t j = 0; j < g.inner; ++j)
            y[j] = kernels::batch_norm_apply_one(x[j], mean, scale, bias);
        }
      },
      3 * g.batch * g.channels * g.inner);
}

void batch_norm_backward_reduce(const kernels::BatchNormGeometry& g, const float* x,
                                const float* dy, const kernels::BatchNormBackwardOut& out) {
  const int64_t count = g.per_channel();
  channel_sums(
      g,
      [&](int64_t p, double& s1, double& s2) {
        const float* xp = x + p * g.inner;
        const float* dyp = dy + p * g.inner;
        const double mean = static_cast<double>(out.save_mean[p % g.channels]);
        plane_sums(
            g.inner,
            [&](int64_t j, double& a, double& b) {
              const double d = static_cast<double>(dyp[j]);
              a = d;
              b = d * (static_cast<double>(xp[j]) - mean);
            },
            s1, s2);
      },
      [&](int64_t c, double s1, double s2) {
        kernels::batch_norm_finish_backward(out, c, g.channels, count, s1, s2);
      });
}

void batch_norm_backward_input(const kernels::BatchNormBackwardInput& f) {
  const kernels::BatchNormGeometry& g = f.g;
  parallel_for_vectorised(
      g.batch * g.channels,
      [&](int64_t p) {
        const int64_t c = p % g.channels;
        const float mean = f.mean[c], scale = kernels::batch_norm_scale(f.weight, f.invstd, c);
        const float* x = f.x + p * g.inner;
        const float* dy = f.dy + p * g.inner;
        float* dx = f.dx + p * g.inner;
        for (int64_t j = 0; j < g.inner; ++j)
          dx[j] =
              kernels::batch_norm_dx_one(dy[j], x[j], mean, scale, f.coefficients, g.channels, c);
      },
      5 * g.batch * g.channels * g.inner);
}

}  // namespace kestrel::cpu
