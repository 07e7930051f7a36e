// The test-time augmentation ops on the GPU against the CPU backend, outputs poisoned first.
// Tolerance: none. shift_flip copies values, and add_weighted rounds its product and its sum
// apart on both devices (kernels/common/fp.hpp), so the GPU must give the CPU's bits.
#include <gtest/gtest.h>

#include <vector>

#include "engine/ops/tta_views.hpp"
#include "tests/cuda/cuda_support.hpp"

namespace kestrel {
namespace {

using test::gpu0;
using test::poisoned;

TEST(CudaTtaViews, ShiftFlipAndAddWeightedMatchCpu) {
  KESTREL_SKIP_WITHOUT_GPU();
  std::mt19937_64 gen(test::test_seed() + 90);
  Context cpu, gpu(gpu0());
  for (const Shape& s : {Shape{1, 1, 2, 3}, Shape{3, 3, 32, 32}, Shape{5, 1, 28, 28}}) {
    const Tensor x = test::random_tensor(s, gen);
    const Tensor gx = x.to(gpu0());
    for (int d : {-1, 0, 1})
      for (bool flip : {false, true}) {
        SCOPED_TRACE(::testing::Message() << s.str() << " shift " << d << " flip " << flip);
        Tensor out = Tensor::empty(s), gout = poisoned(s, gpu0());
        ops::shift_flip(cpu, x, out, d, -d, flip);
        ops::shift_flip(gpu, gx, gout, d, -d, flip);
        EXPECT_TRUE(test::same_bits(out, gout));
      }
  }
  const std::vector<float> weights = {0.25f, 0.25f, 0.125f, 0.125f, 0.125f, 0.125f};
  Tensor acc = Tensor::empty(Shape{37, 10}), gacc = poisoned(Shape{37, 10}, gpu0());
  for (size_t k = 0; k < weights.size(); ++k) {
    const Tensor logits = test::random_tensor(Shape{37, 10}, gen, -30.0f, 30.0f);
    ops::add_weighted(cpu, logits, weights[k], k == 0, acc);
    ops::add_weighted(gpu, logits.to(gpu0()), weights[k], k == 0, gacc);
  }
  EXPECT_TRUE(test::same_bits(acc, gacc));
}

}  // namespace
}  // namespace kestrel
