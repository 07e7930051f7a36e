// The test-time augmentation views (ops::shift_flip) against an independent construction: the
// image reflect-padded by the shift's size, as F.pad(mode="reflect") builds it, the window at
// the shifted offset cut out, then mirrored. And the weighted sum of logits (ops::add_weighted)
// against float64; the view lists' weights (train::tta_views) sum to 1.
#include "engine/ops/tta_views.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <random>
#include <vector>

#include "engine/train/tta.hpp"
#include "tests/support/errors.hpp"
#include "tests/support/random.hpp"

namespace kestrel {
namespace {

// x [B, C, H, W] reflect-padded by p on every side, the H x W window at (p + dy, p + dx), then
// mirrored left-right when flip.
std::vector<float> reference_view(const Tensor& x, int dy, int dx, bool flip) {
  const int64_t planes = x.shape()[0] * x.shape()[1], h = x.shape()[2], w = x.shape()[3];
  const int64_t p = std::max(std::abs(dy), std::abs(dx));
  const int64_t ph = h + 2 * p, pw = w + 2 * p;
  std::vector<float> out(static_cast<size_t>(x.numel()));
  for (int64_t q = 0; q < planes; ++q) {
    std::vector<float> padded(static_cast<size_t>(ph * pw));
    for (int64_t y = 0; y < ph; ++y)
      for (int64_t c = 0; c < pw; ++c) {
        int64_t sy = y - p, sx = c - p;  // reflect: the edge pixel is not repeated
        if (sy < 0) sy = -sy;
        if (sy >= h) sy = 2 * (h - 1) - sy;
        if (sx < 0) sx = -sx;
        if (sx >= w) sx = 2 * (w - 1) - sx;
        padded[static_cast<size_t>(y * pw + c)] = x.data<float>()[(q * h + sy) * w + sx];
      }
    for (int64_t y = 0; y < h; ++y)
      for (int64_t c = 0; c < w; ++c) {
        const int64_t window_x = flip ? w - 1 - c : c;
        out[static_cast<size_t>((q * h + y) * w + c)] =
            padded[static_cast<size_t>((y + p + dy) * pw + window_x + p + dx)];
      }
  }
  return out;
}

TEST(TtaViews, ShiftFlipIsTheReflectPaddedWindowMirrored) {
  const uint64_t seed = test::test_seed();
  SCOPED_TRACE(seed);
  std::mt19937_64 gen(seed);
  Context ctx;
  const Tensor x = test::random_tensor(Shape{2, 3, 5, 7}, gen);
  Tensor out = Tensor::empty(x.shape());
  for (int dy = -2; dy <= 2; ++dy)
    for (int dx = -2; dx <= 2; ++dx)
      for (bool flip : {false, true}) {
        SCOPED_TRACE(testing::Message() << "dy " << dy << " dx " << dx << " flip " << flip);
        ops::shift_flip(ctx, x, out, dy, dx, flip);
        const std::vector<float> want = reference_view(x, dy, dx, flip);
        for (int64_t i = 0; i < x.numel(); ++i)
          ASSERT_EQ(out.data<float>()[i], want[static_cast<size_t>(i)]) << "element " << i;
      }
}

TEST(TtaViews, ShiftFlipRefusesBadArguments) {
  std::mt19937_64 gen(test::test_seed());
  Context ctx;
  const Tensor x = test::random_tensor(Shape{1, 1, 3, 4}, gen);
  Tensor out = Tensor::empty(x.shape());
  test::expect_error([&] { ops::shift_flip(ctx, x, out, 3, 0, false); },
                     "must be smaller than the image");
  Tensor same = x;
  test::expect_error([&] { ops::shift_flip(ctx, x, same, 1, 0, false); }, "overlaps");
  Tensor wrong = Tensor::empty(Shape{1, 1, 4, 3});
  test::expect_error([&] { ops::shift_flip(ctx, x, wrong, 0, 0, true); }, "output");
}

TEST(TtaViews, AddWeightedIsTheWeightedSumInViewOrder) {
  const uint64_t seed = test::test_seed();
  SCOPED_TRACE(seed);
  std::mt19937_64 gen(seed);
  Context ctx;
  const std::vector<float> weights = {0.25f, 0.25f, 0.125f, 0.125f, 0.125f, 0.125f};
  std::vector<Tensor> logits;
  for (size_t k = 0; k < weights.size(); ++k)
    logits.push_back(test::random_tensor(Shape{9, 10}, gen, -20.0f, 20.0f));
  Tensor acc = Tensor::empty(Shape{9, 10});
  for (size_t k = 0; k < weights.size(); ++k)
    ops::add_weighted(ctx, logits[k], weights[k], k == 0, acc);
  for (int64_t i = 0; i < acc.numel(); ++i) {
    double want = 0.0, scale = 0.0;
    for (size_t k = 0; k < weights.size(); ++k) {
      want += double(weights[k]) * double(logits[k].data<float>()[i]);
      scale += std::abs(double(weights[k]) * double(logits[k].data<float>()[i]));
    }
    // Six f32 additions of products (exact: the weights are powers of two).
    ASSERT_NEAR(acc.data<float>()[i], want, 6 * 0x1p-24 * scale) << "element " << i;
  }
}

TEST(TtaViews, EachChoiceNamesItselfAndItsWeightsSumToOne) {
  for (train::Tta tta : {train::Tta::None, train::Tta::Flip, train::Tta::FlipTranslate}) {
    SCOPED_TRACE(train::tta_name(tta));
    EXPECT_EQ(train::parse_tta(train::tta_name(tta)), tta);
    double sum = 0.0;
    for (const train::TtaView& v : train::tta_views(tta)) sum += v.weight;
    EXPECT_EQ(sum, 1.0);
  }
  EXPECT_EQ(train::tta_views(train::Tta::None).size(), 1u);
  EXPECT_EQ(train::tta_views(train::Tta::Flip).size(), 2u);
  EXPECT_EQ(train::tta_views(train::Tta::FlipTranslate).size(), 6u);
  test::expect_error([] { train::parse_tta("mirror"); },
                     "'mirror' is not one of none, flip, flip-translate");
}

}  // namespace
}  // namespace kestrel
