// Batch assembly (kernels/common/batch_assembly.hpp) against a naive float64 reference that pads
// each image explicitly (with zeros, or reflecting), crops and mirrors it with its own index
// arithmetic, on random bytes; the crop offsets and flips against their uniform distribution;
// alternating flips against their definition; the label gather.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <ostream>
#include <random>
#include <vector>

#include "engine/ops/dispatch.hpp"
#include "kernels/common/batch_assembly.hpp"
#include "kernels/common/data_streams.hpp"
#include "kernels/common/philox.hpp"
#include "kernels/cpu/batch_assembly.hpp"
#include "kernels/cpu/parallel.hpp"
#include "tests/support/compare.hpp"
#include "tests/support/random.hpp"

namespace kestrel {
namespace {

struct AssemblyCase {
  int64_t n, b, c, h, w, oh, ow, p;
  bool random_crop, hflip;
};
void PrintTo(const AssemblyCase& k, std::ostream* os) {
  *os << "N" << k.n << " B" << k.b << " C" << k.c << " " << k.h << "x" << k.w << "->" << k.oh
      << "x" << k.ow << " P" << k.p << (k.random_crop ? " crop" : "") << (k.hflip ? " flip" : "");
}

// The documented draw, written out here: one Philox block per (seed, epoch stream, sample).
struct Draw {
  int64_t dy, dx;
  bool flip;
};
Draw documented_draw(uint64_t seed, uint64_t stream, int64_t sample, int64_t span_y,
                     int64_t span_x, bool random_crop, bool hflip) {
  const rng::Bits4 w = rng::philox_block(seed, stream, static_cast<uint64_t>(sample));
  Draw d{span_y / 2, span_x / 2, false};
  if (random_crop) {
    d.dy = static_cast<int64_t>((static_cast<uint64_t>(w.v[0]) * (span_y + 1)) >> 32);
    d.dx = static_cast<int64_t>((static_cast<uint64_t>(w.v[1]) * (span_x + 1)) >> 32);
  }
  if (hflip) d.flip = w.v[2] >= 0x80000000u;
  return d;
}

// Naive reference: build the zero-padded image in double, cut the window, mirror it, normalise.
std::vector<double> assemble_reference(const AssemblyCase& k, const std::vector<uint8_t>& images,
                                       const std::vector<int32_t>& indices,
                                       const std::vector<double>& mean,
                                       const std::vector<double>& stddev, uint64_t seed,
                                       uint64_t stream) {
  const int64_t ph = k.h + 2 * k.p, pw = k.w + 2 * k.p;
  std::vector<double> out;
  for (int64_t b = 0; b < k.b; ++b) {
    const int64_t s = indices[static_cast<size_t>(b)];
    const Draw d = documented_draw(seed, stream, s, ph - k.oh, pw - k.ow, k.random_crop, k.hflip);
    for (int64_t c = 0; c < k.c; ++c) {
      std::vector<std::vector<double>> padded(static_cast<size_t>(ph),
                                              std::vector<double>(static_cast<size_t>(pw), 0.0));
      for (int64_t y = 0; y < k.h; ++y)
        for (int64_t x = 0; x < k.w; ++x)
          padded[static_cast<size_t>(y + k.p)][static_cast<size_t>(x + k.p)] =
              images[static_cast<size_t>(s * k.c * k.h * k.w + c * k.h * k.w + y * k.w + x)];
      std::vector<std::vector<double>> crop(static_cast<size_t>(k.oh));
      for (int64_t r = 0; r < k.oh; ++r)
        for (int64_t q = 0; q < k.ow; ++q)
          crop[static_cast<size_t>(r)].push_back(
              padded[static_cast<size_t>(r + d.dy)][static_cast<size_t>(q + d.dx)]);
      if (d.flip)
        for (auto& row : crop) std::reverse(row.begin(), row.end());
      for (const auto& row : crop)
        for (double byte : row)
          out.push_back((byte / 255.0 - mean[static_cast<size_t>(c)]) /
                        stddev[static_cast<size_t>(c)]);
    }
  }
  return out;
}

kernels::BatchGeometry geometry_of(const AssemblyCase& k) {
  kernels::BatchGeometry g;
  g.channels = static_cast<int32_t>(k.c);
  g.height = static_cast<int32_t>(k.h);
  g.width = static_cast<int32_t>(k.w);
  g.out_height = static_cast<int32_t>(k.oh);
  g.out_width = static_cast<int32_t>(k.ow);
  g.padding = static_cast<int32_t>(k.p);
  return g;
}

std::vector<uint8_t> random_bytes(int64_t count, std::mt19937_64& gen) {
  std::uniform_int_distribution<int> byte(0, 255);
  std::vector<uint8_t> v(static_cast<size_t>(count));
  for (auto& x : v) x = static_cast<uint8_t>(byte(gen));
  return v;
}

std::vector<int32_t> random_indices(int64_t count, int64_t n, std::mt19937_64& gen) {
  std::uniform_int_distribution<int32_t> pick(0, static_cast<int32_t>(n - 1));
  std::vector<int32_t> v(static_cast<size_t>(count));
  for (auto& x : v) x = pick(gen);
  return v;
}

// Per-channel mean in [0.2, 0.6) and std in [0.15, 0.4), drawn channel by channel.
kernels::ChannelNormalization random_normalization(int64_t channels, std::mt19937_64& gen) {
  kernels::ChannelNormalization norm;
  std::uniform_real_distribution<float> m(0.2f, 0.6f), s(0.15f, 0.4f);
  for (int64_t c = 0; c < channels; ++c) {
    norm.mean[c] = m(gen);
    norm.std[c] = s(gen);
  }
  return norm;
}

// Runs DrawCropFlip (when augmenting) then AssembleBatch on the CPU; the output starts as NaN
// so an element the functor skips fails the comparison.
std::vector<float> assemble(const AssemblyCase& k, const std::vector<uint8_t>& images,
                            const std::vector<int32_t>& indices,
                            const kernels::ChannelNormalization& norm, uint64_t seed,
                            uint64_t stream) {
  Context ctx;
  const kernels::BatchGeometry g = geometry_of(k);
  std::vector<int32_t> crop_flip;
  if (k.random_crop || k.hflip) {
    crop_flip.assign(static_cast<size_t>(3 * k.n), -1);
    const kernels::AugmentSpec spec{seed, stream, k.random_crop, k.hflip};
    ops::detail::launch_elementwise(ctx, k.n, kernels::DrawCropFlip{spec, g, crop_flip.data()});
  }
  std::vector<float> out(static_cast<size_t>(k.b * k.c * k.oh * k.ow),
                         std::numeric_limits<float>::quiet_NaN());
  ops::detail::launch_elementwise(
      ctx, static_cast<int64_t>(out.size()),
      kernels::AssembleBatch{g, norm, images.data(), indices.data(),
                             crop_flip.empty() ? nullptr : crop_flip.data(), out.data()});
  return out;
}

class BatchAssemblyTest : public ::testing::TestWithParam<AssemblyCase> {};

TEST_P(BatchAssemblyTest, MatchesPaddedCropFlipReference) {
  const AssemblyCase k = GetParam();
  std::mt19937_64 gen(test::test_seed());
  const auto images = random_bytes(k.n * k.c * k.h * k.w, gen);
  const auto indices = random_indices(k.b, k.n, gen);  // repeats allowed, as in any gather
  const kernels::ChannelNormalization norm = random_normalization(k.c, gen);
  const std::vector<double> mean(norm.mean, norm.mean + k.c), stddev(norm.std, norm.std + k.c);
  const uint64_t seed = gen(), stream = rng::data_stream(rng::DataPurpose::Augment, 3);
  const auto out = assemble(k, images, indices, norm, seed, stream);
  // Three f32 roundings (byte / 255, - mean, / std) on values up to ~6.7: under 1e-6 absolute.
  EXPECT_TRUE(test::all_close(
      assemble_reference(k, images, indices, mean, stddev, seed, stream), out, 1e-7, 1e-6));
}

TEST_P(BatchAssemblyTest, FollowsTheDocumentedFloatOrderBitForBit) {
  // Without augmentation each output is the documented float expression of its source byte.
  AssemblyCase k = GetParam();
  k.random_crop = k.hflip = false;
  k.p = 0;
  k.oh = k.h;
  k.ow = k.w;
  std::mt19937_64 gen(test::test_seed() + 1);
  const auto images = random_bytes(k.n * k.c * k.h * k.w, gen);
  const auto indices = random_indices(k.b, k.n, gen);
  const kernels::ChannelNormalization norm = random_normalization(k.c, gen);
  const auto out = assemble(k, images, indices, norm, 0, 0);
  const int64_t plane = k.h * k.w;
  for (int64_t b = 0; b < k.b; ++b)
    for (int64_t c = 0; c < k.c; ++c)
      for (int64_t e = 0; e < plane; ++e) {
        const uint8_t byte = images[static_cast<size_t>(
            (indices[static_cast<size_t>(b)] * k.c + c) * plane + e)];
        const float unit = static_cast<float>(byte) / 255.0f;
        const float expected = (unit - norm.mean[c]) / norm.std[c];
        const float got = out[static_cast<size_t>((b * k.c + c) * plane + e)];
        ASSERT_EQ(std::memcmp(&expected, &got, sizeof(float)), 0)
            << "row " << b << " channel " << c << " element " << e << ": " << got << " vs "
            << expected;
      }
}

// The host loops (kernels/cpu/batch_assembly, what a CPU loader runs) give the functor's bits,
// with 1 and with 2 threads.
TEST_P(BatchAssemblyTest, HostLoopsMatchTheFunctorBitForBit) {
  const AssemblyCase k = GetParam();
  std::mt19937_64 gen(test::test_seed() + 2);
  const auto images = random_bytes(k.n * k.c * k.h * k.w, gen);
  const auto indices = random_indices(k.b, k.n, gen);
  const kernels::ChannelNormalization norm = random_normalization(k.c, gen);
  const uint64_t seed = gen(), stream = rng::data_stream(rng::DataPurpose::Augment, 5);
  const auto expected = assemble(k, images, indices, norm, seed, stream);

  const kernels::BatchGeometry g = geometry_of(k);
  std::vector<int32_t> crop_flip;
  if (k.random_crop || k.hflip) {
    crop_flip.assign(static_cast<size_t>(3 * k.n), -1);
    const kernels::AugmentSpec spec{seed, stream, k.random_crop, k.hflip};
    cpu::launch(k.n, kernels::DrawCropFlip{spec, g, crop_flip.data()});
  }
  for (const int threads : {1, 2}) {
    SCOPED_TRACE(threads);
    cpu::set_num_threads(threads);
    std::vector<float> out(expected.size(), std::numeric_limits<float>::quiet_NaN());
    cpu::assemble_batch(g, norm, images.data(), indices.data(),
                        crop_flip.empty() ? nullptr : crop_flip.data(), k.b, out.data());
    cpu::set_num_threads(0);
    ASSERT_EQ(std::memcmp(out.data(), expected.data(), out.size() * sizeof(float)), 0);
  }
}

INSTANTIATE_TEST_SUITE_P(
    Shapes, BatchAssemblyTest,
    ::testing::Values(AssemblyCase{20, 7, 1, 28, 28, 28, 28, 0, false, false},  // MNIST
                      AssemblyCase{30, 16, 3, 32, 32, 32, 32, 4, true, true},   // CIFAR train
                      AssemblyCase{9, 5, 2, 7, 5, 7, 5, 2, true, false},        // odd, crop only
                      AssemblyCase{6, 1, 4, 9, 11, 9, 11, 0, false, true},      // batch 1, flip
                      AssemblyCase{8, 3, 3, 10, 12, 8, 9, 1, true, true},       // smaller crop
                      AssemblyCase{5, 4, 1, 9, 9, 5, 6, 0, false, false},       // centred crop
                      AssemblyCase{4, 6, 1, 3, 4, 3, 4, 5, true, true},         // P > H
                      AssemblyCase{6, 4, 2, 6, 5, 8, 9, 3, true, true}));       // crop > image

TEST(BatchAssembly, PaddedPixelsNormaliseLikeByteZero) {
  // A white image cropped at the corner offset (0, 0) with P = 2: the first two rows and
  // columns are padding and must read (0 - mean) / std.
  const AssemblyCase k{1, 1, 1, 4, 4, 4, 4, 2, false, false};
  kernels::BatchGeometry g = geometry_of(k);
  kernels::ChannelNormalization norm;
  norm.mean[0] = 0.5f;
  norm.std[0] = 0.25f;
  const std::vector<uint8_t> images(16, 255);
  const std::vector<int32_t> indices{0}, crop_flip{0, 0, 0};
  std::vector<float> out(16, std::numeric_limits<float>::quiet_NaN());
  cpu::launch(16, kernels::AssembleBatch{g, norm, images.data(), indices.data(), crop_flip.data(),
                                         out.data()});
  for (int r = 0; r < 4; ++r)
    for (int q = 0; q < 4; ++q)
      EXPECT_EQ(out[static_cast<size_t>(r * 4 + q)], r < 2 || q < 2 ? -2.0f : 2.0f)
          << "row " << r << " column " << q;
}

TEST(BatchAssembly, GatherLabelsFollowsIndices) {
  std::mt19937_64 gen(test::test_seed() + 2);
  const int64_t n = 57, b = 31;
  std::uniform_int_distribution<int32_t> label(0, 9);
  std::vector<int32_t> labels(n), out(b, -1);
  for (auto& l : labels) l = label(gen);
  const auto indices = random_indices(b, n, gen);
  Context ctx;
  ops::detail::launch_elementwise(ctx, b,
                                  kernels::GatherLabels{labels.data(), indices.data(), out.data()});
  for (int64_t i = 0; i < b; ++i)
    EXPECT_EQ(out[static_cast<size_t>(i)], labels[static_cast<size_t>(indices[static_cast<size_t>(i)])])
        << "row " << i;
}

// Crop offsets uniform over [0, 2P] and flips at rate 1/2, jointly independent: 20000 samples
// of one epoch, each marginal bin within 6 sigma of its binomial mean, and the joint
// (dy, dx, flip) table's chi-square within 6 standard deviations of its degrees of freedom.
class CropFlipDistribution : public ::testing::TestWithParam<int> {};

TEST_P(CropFlipDistribution, UniformOffsetsAndFairFlips) {
  const int p = GetParam();
  const int64_t n = 20000, bins = 2 * p + 1;
  const AssemblyCase k{n, 1, 3, 32, 32, 32, 32, p, true, true};
  std::mt19937_64 gen(test::test_seed() + 3);
  const kernels::AugmentSpec spec{gen(), rng::data_stream(rng::DataPurpose::Augment, 7), true,
                                  true};
  std::vector<int32_t> draws(static_cast<size_t>(3 * n), -1);
  Context ctx;
  ops::detail::launch_elementwise(ctx, n,
                                  kernels::DrawCropFlip{spec, geometry_of(k), draws.data()});

  std::vector<int64_t> dy(static_cast<size_t>(bins)), dx(static_cast<size_t>(bins)), flip(2);
  std::vector<int64_t> joint(static_cast<size_t>(bins * bins * 2));
  for (int64_t s = 0; s < n; ++s) {
    const int32_t y = draws[static_cast<size_t>(3 * s)], x = draws[static_cast<size_t>(3 * s + 1)],
                  f = draws[static_cast<size_t>(3 * s + 2)];
    ASSERT_TRUE(y >= 0 && y < bins && x >= 0 && x < bins && (f == 0 || f == 1))
        << "sample " << s << " drew (" << y << ", " << x << ", " << f << ")";
    ++dy[static_cast<size_t>(y)];
    ++dx[static_cast<size_t>(x)];
    ++flip[static_cast<size_t>(f)];
    ++joint[static_cast<size_t>((y * bins + x) * 2 + f)];
  }
  const auto within_6_sigma = [&](const std::vector<int64_t>& counts, const char* what) {
    const double q = 1.0 / static_cast<double>(counts.size()), mean = static_cast<double>(n) * q;
    const double sigma = std::sqrt(static_cast<double>(n) * q * (1.0 - q));
    for (size_t i = 0; i < counts.size(); ++i)
      EXPECT_LT(std::abs(static_cast<double>(counts[i]) - mean), 6.0 * sigma)
          << what << " bin " << i << " count " << counts[i] << ", expected " << mean;
  };
  within_6_sigma(dy, "dy");
  within_6_sigma(dx, "dx");
  within_6_sigma(flip, "flip");
  const double cells = static_cast<double>(joint.size()), expected = static_cast<double>(n) / cells;
  double chi2 = 0.0;
  for (int64_t c : joint) chi2 += (static_cast<double>(c) - expected) * (static_cast<double>(c) - expected) / expected;
  const double dof = cells - 1.0;
  EXPECT_LT(std::abs(chi2 - dof), 6.0 * std::sqrt(2.0 * dof)) << "chi-square " << chi2 << " on "
                                                               << dof << " degrees of freedom";
}

INSTANTIATE_TEST_SUITE_P(Padding, CropFlipDistribution, ::testing::Values(1, 4));

TEST(BatchAssembly, DrawDependsOnSampleAndEpochOnly) {
  const AssemblyCase k{64, 1, 3, 32, 32, 32, 32, 4, true, true};
  const kernels::BatchGeometry g = geometry_of(k);
  const kernels::AugmentSpec epoch0{99, rng::data_stream(rng::DataPurpose::Augment, 0), true, true};
  kernels::AugmentSpec epoch1 = epoch0;
  epoch1.stream = rng::data_stream(rng::DataPurpose::Augment, 1);
  int differ = 0;
  for (int64_t s = 0; s < k.n; ++s) {
    const auto a = kernels::draw_crop_flip(epoch0, g, s), b = kernels::draw_crop_flip(epoch0, g, s);
    EXPECT_TRUE(a.dy == b.dy && a.dx == b.dx && a.flip == b.flip) << "sample " << s;
    const auto c = kernels::draw_crop_flip(epoch1, g, s);
    differ += (a.dy != c.dy || a.dx != c.dx || a.flip != c.flip) ? 1 : 0;
  }
  // Equal draws happen with probability 1/162 per sample.
  EXPECT_GT(differ, 50);
}

// --- Reflect padding ---

// The image padded by p on every side as F.pad(mode='reflect') pads it, built explicitly: each
// row is mirrored about its first and last pixel (padded column p - k is column k, column
// p + w - 1 + k is column w - 1 - k), then the padded rows are mirrored the same way.
std::vector<std::vector<double>> reflect_padded(const uint8_t* plane, int64_t h, int64_t w,
                                                int64_t p) {
  std::vector<std::vector<double>> rows;
  for (int64_t y = 0; y < h; ++y) {
    const uint8_t* src = plane + y * w;
    std::vector<double> row(src, src + w);
    for (int64_t k = 1; k <= p; ++k) {
      row.insert(row.begin(), static_cast<double>(src[k]));
      row.push_back(static_cast<double>(src[w - 1 - k]));
    }
    rows.push_back(row);
  }
  std::vector<std::vector<double>> padded = rows;
  for (int64_t k = 1; k <= p; ++k) {
    padded.insert(padded.begin(), rows[static_cast<size_t>(k)]);
    padded.push_back(rows[static_cast<size_t>(h - 1 - k)]);
  }
  return padded;
}

// Random shapes, reflect paddings in [1, min(H, W)), crop sizes and offsets (set directly in
// the crop_flip table) and flips: the functor and the host loops against the explicitly padded,
// cropped and mirrored image, and the host loops bit for bit against the functor.
TEST(BatchAssembly, ReflectPaddingMatchesAnExplicitlyPaddedImage) {
  std::mt19937_64 gen(test::test_seed() + 4);
  const auto uniform = [&](int64_t lo, int64_t hi) {  // in [lo, hi]
    return std::uniform_int_distribution<int64_t>(lo, hi)(gen);
  };
  for (int trial = 0; trial < 40; ++trial) {
    AssemblyCase k{};
    k.n = uniform(1, 6);
    k.b = uniform(1, 8);
    k.c = uniform(1, 4);
    k.h = uniform(2, 12);
    k.w = uniform(2, 12);
    k.p = uniform(1, std::min(k.h, k.w) - 1);
    k.oh = uniform(1, k.h + 2 * k.p);
    k.ow = uniform(1, k.w + 2 * k.p);
    SCOPED_TRACE(::testing::PrintToString(k));
    kernels::BatchGeometry g = geometry_of(k);
    g.pad_mode = kernels::PadMode::Reflect;
    const auto images = random_bytes(k.n * k.c * k.h * k.w, gen);
    const auto indices = random_indices(k.b, k.n, gen);
    const kernels::ChannelNormalization norm = random_normalization(k.c, gen);
    std::vector<int32_t> crop_flip;
    for (int64_t s = 0; s < k.n; ++s) {
      crop_flip.push_back(static_cast<int32_t>(uniform(0, g.span_y())));
      crop_flip.push_back(static_cast<int32_t>(uniform(0, g.span_x())));
      crop_flip.push_back(static_cast<int32_t>(uniform(0, 1)));
    }

    std::vector<double> expected;
    for (int64_t b = 0; b < k.b; ++b) {
      const auto s = static_cast<size_t>(indices[static_cast<size_t>(b)]);
      const int64_t dy = crop_flip[3 * s], dx = crop_flip[3 * s + 1];
      const bool flip = crop_flip[3 * s + 2] != 0;
      for (int64_t c = 0; c < k.c; ++c) {
        const auto padded = reflect_padded(
            images.data() + (static_cast<int64_t>(s) * k.c + c) * k.h * k.w, k.h, k.w, k.p);
        for (int64_t r = 0; r < k.oh; ++r) {
          std::vector<double> row(padded[static_cast<size_t>(r + dy)].begin() + dx,
                                  padded[static_cast<size_t>(r + dy)].begin() + dx + k.ow);
          if (flip) std::reverse(row.begin(), row.end());
          for (double byte : row)
            expected.push_back((byte / 255.0 - static_cast<double>(norm.mean[c])) /
                               static_cast<double>(norm.std[c]));
        }
      }
    }

    std::vector<float> functor(expected.size(), std::numeric_limits<float>::quiet_NaN());
    cpu::launch(static_cast<int64_t>(functor.size()),
                kernels::AssembleBatch{g, norm, images.data(), indices.data(), crop_flip.data(),
                                       functor.data()});
    ASSERT_TRUE(test::all_close(expected, functor, 1e-7, 1e-6));
    std::vector<float> host(expected.size(), std::numeric_limits<float>::quiet_NaN());
    cpu::assemble_batch(g, norm, images.data(), indices.data(), crop_flip.data(), k.b, host.data());
    ASSERT_EQ(std::memcmp(host.data(), functor.data(), host.size() * sizeof(float)), 0);
  }
}

TEST(BatchAssembly, ReflectPaddingOfAThreeByThreeImage) {
  // F.pad(x, (2, 2, 2, 2), mode='reflect') of x = [[1, 2, 3], [4, 5, 6], [7, 8, 9]] is
  //   9 8 7 8 9 8 7 / 6 5 4 5 6 5 4 / 3 2 1 2 3 2 1 / 6 5 4 5 6 5 4 / 9 8 7 8 9 8 7 / ...
  // so the 3x3 window at (1, 2) is [[4, 5, 6], [1, 2, 3], [4, 5, 6]], and the one at (3, 0),
  // [[6, 5, 4], [9, 8, 7], [6, 5, 4]], mirrored is [[4, 5, 6], [7, 8, 9], [4, 5, 6]] (mean 0,
  // std 1: each output is byte / 255).
  const AssemblyCase k{2, 2, 1, 3, 3, 3, 3, 2, false, false};
  kernels::BatchGeometry g = geometry_of(k);
  g.pad_mode = kernels::PadMode::Reflect;
  const kernels::ChannelNormalization norm;
  std::vector<uint8_t> images{1, 2, 3, 4, 5, 6, 7, 8, 9};
  images.insert(images.end(), images.begin(), images.end());
  const std::vector<int32_t> indices{0, 1}, crop_flip{1, 2, 0, 3, 0, 1};
  const std::vector<int> expected{4, 5, 6, 1, 2, 3, 4, 5, 6, 4, 5, 6, 7, 8, 9, 4, 5, 6};
  std::vector<float> functor(18, std::numeric_limits<float>::quiet_NaN()), host = functor;
  cpu::launch(18, kernels::AssembleBatch{g, norm, images.data(), indices.data(), crop_flip.data(),
                                         functor.data()});
  cpu::assemble_batch(g, norm, images.data(), indices.data(), crop_flip.data(), 2, host.data());
  for (size_t i = 0; i < expected.size(); ++i) {
    EXPECT_EQ(functor[i], static_cast<float>(expected[i]) / 255.0f) << "element " << i;
    EXPECT_EQ(host[i], static_cast<float>(expected[i]) / 255.0f) << "element " << i;
  }
}

// FNV-1a over the bytes of a vector.
template <typename T>
uint64_t fnv1a(const std::vector<T>& v) {
  uint64_t h = 0xcbf29ce484222325ull;
  const auto* bytes = reinterpret_cast<const unsigned char*>(v.data());
  for (size_t i = 0; i < v.size() * sizeof(T); ++i) h = (h ^ bytes[i]) * 0x100000001b3ull;
  return h;
}

TEST(BatchAssembly, ZeroPaddingKeepsItsBits) {
  // A CIFAR-shaped batch (P = 4, random crop and flip) from fixed inputs, hashed: the values
  // were taken from the code before reflect padding and alternating flips existed, so the
  // default zero padding and random flips must still give exactly these bits. The inputs come
  // from raw mt19937_64 words (fixed by the standard), not from a distribution.
  const int64_t n = 64, c = 3, hw = 32;
  std::mt19937_64 gen(2024);
  std::vector<uint8_t> images(static_cast<size_t>(n * c * hw * hw));
  for (auto& x : images) x = static_cast<uint8_t>(gen() >> 56);
  std::vector<int32_t> indices(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i)
    indices[static_cast<size_t>(i)] = static_cast<int32_t>(i * 37 % n);
  const kernels::BatchGeometry g = geometry_of({n, n, c, hw, hw, hw, hw, 4, true, true});
  kernels::ChannelNormalization norm;
  const float mean[3] = {0.4914f, 0.4822f, 0.4465f}, stddev[3] = {0.2470f, 0.2435f, 0.2616f};
  std::copy(mean, mean + 3, norm.mean);
  std::copy(stddev, stddev + 3, norm.std);
  kernels::AugmentSpec spec;
  spec.seed = 0x5eed;
  spec.stream = rng::data_stream(rng::DataPurpose::Augment, 3);
  spec.random_crop = spec.hflip = true;
  std::vector<int32_t> crop_flip(static_cast<size_t>(3 * n), -1);
  cpu::launch(n, kernels::DrawCropFlip{spec, g, crop_flip.data()});
  EXPECT_EQ(fnv1a(crop_flip), 0xe20d71b57a979401ull);
  std::vector<float> functor(static_cast<size_t>(n * c * hw * hw)), host(functor.size());
  cpu::launch(static_cast<int64_t>(functor.size()),
              kernels::AssembleBatch{g, norm, images.data(), indices.data(), crop_flip.data(),
                                     functor.data()});
  EXPECT_EQ(fnv1a(functor), 0xb7a2652af3995bc0ull);
  cpu::assemble_batch(g, norm, images.data(), indices.data(), crop_flip.data(), n, host.data());
  EXPECT_EQ(fnv1a(host), 0xb7a2652af3995bc0ull);
}

// --- Alternating flips ---

// DrawCropFlip's (dy, dx, flip) table of n samples for one epoch.
std::vector<int32_t> draws_of(const kernels::AugmentSpec& spec, const kernels::BatchGeometry& g,
                              int64_t n) {
  std::vector<int32_t> out(static_cast<size_t>(3 * n), -1);
  cpu::launch(n, kernels::DrawCropFlip{spec, g, out.data()});
  return out;
}

kernels::AugmentSpec epoch_spec(uint64_t seed, int64_t epoch, bool alternate) {
  kernels::AugmentSpec spec;
  spec.seed = seed;
  spec.stream = rng::data_stream(rng::DataPurpose::Augment, epoch);
  spec.random_crop = spec.hflip = true;
  spec.alternate_flip = alternate;
  spec.epoch = epoch;
  return spec;
}

TEST(BatchAssembly, AlternatingFlipsInvertEveryEpoch) {
  // For random seeds: every sample's flip at epoch e + 1 is the negation of epoch e's; epoch 0
  // flips about half of them (6 sigma); the flip is the documented coin, w[2] >> 31 of the
  // sample's epoch-0 block, XOR (e odd); the crops are Random mode's, drawn anew each epoch.
  const int64_t n = 4000;
  const kernels::BatchGeometry g = geometry_of({n, 1, 3, 32, 32, 32, 32, 4, true, true});
  std::mt19937_64 gen(test::test_seed() + 5);
  for (int trial = 0; trial < 3; ++trial) {
    const uint64_t seed = gen();
    SCOPED_TRACE(seed);
    std::vector<int32_t> previous;
    for (int64_t epoch = 0; epoch < 5; ++epoch) {
      const auto alternate = draws_of(epoch_spec(seed, epoch, true), g, n);
      const auto random = draws_of(epoch_spec(seed, epoch, false), g, n);
      int64_t flipped = 0;
      for (int64_t s = 0; s < n; ++s) {
        const auto i = static_cast<size_t>(3 * s);
        ASSERT_EQ(alternate[i], random[i]) << "dy of sample " << s << ", epoch " << epoch;
        ASSERT_EQ(alternate[i + 1], random[i + 1]) << "dx of sample " << s << ", epoch " << epoch;
        const rng::Bits4 w0 = rng::philox_block(
            seed, rng::data_stream(rng::DataPurpose::Augment, 0), static_cast<uint64_t>(s));
        const bool coin = w0.v[2] >= 0x80000000u;
        ASSERT_EQ(alternate[i + 2], (coin != (epoch % 2 == 1)) ? 1 : 0)
            << "sample " << s << ", epoch " << epoch;
        if (!previous.empty()) {
          ASSERT_EQ(alternate[i + 2], 1 - previous[i + 2]) << "sample " << s << ", epoch " << epoch;
        }
        flipped += alternate[i + 2];
      }
      if (epoch == 0) {
        // Epoch 0 flips exactly as Random mode does, about half of the samples.
        for (int64_t s = 0; s < n; ++s)
          ASSERT_EQ(alternate[static_cast<size_t>(3 * s + 2)],
                    random[static_cast<size_t>(3 * s + 2)]);
        EXPECT_LT(std::abs(static_cast<double>(flipped) - n / 2.0), 6.0 * std::sqrt(n / 4.0))
            << flipped << " of " << n << " flipped";
      }
      previous = alternate;
    }
  }
}

TEST(BatchAssembly, AlternatingFlipCoinsDependOnTheSeed) {
  // Two seeds agree on a sample's coin with probability 1/2: of 4000, within 6 sigma of 2000.
  const int64_t n = 4000;
  const kernels::BatchGeometry g = geometry_of({n, 1, 3, 32, 32, 32, 32, 4, true, true});
  std::mt19937_64 gen(test::test_seed() + 6);
  const uint64_t a = gen(), b = gen();
  for (int64_t epoch : {0, 3}) {
    const auto x = draws_of(epoch_spec(a, epoch, true), g, n);
    const auto y = draws_of(epoch_spec(b, epoch, true), g, n);
    int64_t same = 0;
    for (int64_t s = 0; s < n; ++s)
      same += x[static_cast<size_t>(3 * s + 2)] == y[static_cast<size_t>(3 * s + 2)] ? 1 : 0;
    EXPECT_LT(std::abs(static_cast<double>(same) - n / 2.0), 6.0 * std::sqrt(n / 4.0))
        << "epoch " << epoch << ": " << same << " of " << n << " coins agree";
  }
}

}  // namespace
}  // namespace kestrel
