#pragma once
// Random fills for weight initialisation, as element functors over Philox
// (kernels/common/philox.hpp). Element i of a tensor filled under (seed, stream) depends on
// (seed, stream, i) alone, so a fill gives the same bits on any thread count, and the uniform
// fill the same bits on the GPU (its product and sum are rounded apart there, as on the CPU).
#include <cmath>
#include <cstdint>

#include "kernels/common/fp.hpp"
#include "kernels/common/hd.hpp"
#include "kernels/common/philox.hpp"

namespace kestrel::kernels {

// out[i] = lo + (hi - lo) * u with u = rng::uniform(seed, stream, i) in [0, 1) (24 bits).
// Values lie in [lo, hi]: the rounding of lo + (hi - lo) * u may reach hi, never pass it.
struct UniformFill {
  float* out;
  float lo;
  float hi;
  uint64_t seed;
  uint64_t stream;

  KESTREL_HD void operator()(int64_t i) const {
    const float u = rng::uniform(seed, stream, static_cast<uint64_t>(i));
    const float v = fp::add_rn(lo, fp::mul_rn(hi - lo, u));  // not fused on the GPU
    out[i] = v < hi ? v : hi;
  }
};

// out[i] = mean + stddev * z, z standard normal by Box-Muller from the Philox words at indices
// 2i and 2i+1 (two words of block i/2, so each element computes one block):
//   u1 = (w[2i] >> 8) + 1) / 2^24 in (0, 1],  u2 = (w[2i+1] >> 8) / 2^24 in [0, 1),
//   z = sqrt(-2 ln u1) * cos(2 pi u2).
// u1 > 0 keeps the logarithm finite, which bounds |z| by sqrt(2 ln 2^24) = 5.77.
// The GPU's logf/cosf differ from the host's by an ulp or so, so normal fills agree across
// backends to a few ulps rather than bit for bit.
struct NormalFill {
  float* out;
  float mean;
  float stddev;
  uint64_t seed;
  uint64_t stream;

  KESTREL_HD void operator()(int64_t i) const {
    const uint64_t index = static_cast<uint64_t>(i);
    const rng::Bits4 block = rng::philox_block(seed, stream, index >> 1);
    const uint32_t first = 2u * static_cast<uint32_t>(index & 1u);
    const float u1 = static_cast<float>((block.v[first] >> 8) + 1u) * (1.0f / 16777216.0f);
    const float u2 = rng::u32_to_unit_float(block.v[first + 1]);
    const float radius = ::sqrtf(-2.0f * ::logf(u1));
    const float z = radius * ::cosf(6.28318530717958647692f * u2);
    out[i] = fp::add_rn(mean, fp::mul_rn(stddev, z));
  }
};

// torch.nn.init.dirac_ on the first `rows` filters of a convolution weight [out, in, kh, kw]
// (rows <= min(out, in)): filter o < rows becomes 0 except 1 at (o, o, kh / 2, kw / 2), so
// output channel o starts as a copy of input channel o; filters from `rows` on are left alone.
struct DiracRows {
  float* w;
  int64_t rows;
  int64_t in_channels;
  int64_t kernel_h, kernel_w;

  KESTREL_HD void operator()(int64_t i) const {
    const int64_t filter = kernel_h * kernel_w;
    const int64_t o = i / (in_channels * filter);
    if (o >= rows) return;
    const int64_t c = (i / filter) % in_channels;
    const int64_t at = i % filter;
    const int64_t centre = (kernel_h / 2) * kernel_w + kernel_w / 2;
    w[i] = c == o && at == centre ? 1.0f : 0.0f;
  }
};

}  // namespace kestrel::kernels
