// scale_channels on the GPU against the CPU backend on the same random inputs, outputs poisoned
// first. y = x * s and dx = dy * s are one f32 product per element: the CPU's bits. ds sums
// H * W products per plane in the same row-major order, but nvcc contracts each multiply-add
// into an FMA (the CPU build does not: -ffp-contract=off), so ds agrees to 1e-5.
#include <gtest/gtest.h>

#include "engine/ops/scale_channels.hpp"
#include "tests/cuda/cuda_support.hpp"

namespace kestrel {
namespace {

using test::gpu0;
using test::poisoned;

TEST(CudaScaleChannels, ForwardBackwardMatchCpu) {
  KESTREL_SKIP_WITHOUT_GPU();
  std::mt19937_64 gen(test::test_seed() + 62);
  Context cpu, gpu(gpu0());
  for (const Shape& xs :
       {Shape{1, 1, 1, 1}, Shape{2, 3, 7, 7}, Shape{16, 64, 8, 8}, Shape{4, 96, 28, 28}}) {
    SCOPED_TRACE(xs.str());
    const Shape ss{xs[0], xs[1], 1, 1};
    const Tensor x = test::random_tensor(xs, gen), s = test::random_tensor(ss, gen);
    const Tensor dy = test::random_tensor(xs, gen);
    Tensor y = Tensor::empty(xs), dx = Tensor::empty(xs), ds = Tensor::empty(ss);
    ops::scale_channels_forward(cpu, x, s, y);
    ops::scale_channels_backward(cpu, x, s, dy, &dx, &ds);
    const Tensor gx = x.to(gpu0()), gs = s.to(gpu0()), gdy = dy.to(gpu0());
    Tensor gy = poisoned(xs, gpu0()), gdx = poisoned(xs, gpu0()), gds = poisoned(ss, gpu0());
    ops::scale_channels_forward(gpu, gx, gs, gy);
    ops::scale_channels_backward(gpu, gx, gs, gdy, &gdx, &gds);
    EXPECT_TRUE(test::same_bits(y, gy));
    EXPECT_TRUE(test::same_bits(dx, gdx));
    EXPECT_TRUE(test::gpu_matches_cpu(ds, gds, 1e-5, 1e-5));
    // Run to run on the GPU: the same bits (no atomics).
    Tensor gds2 = poisoned(ss, gpu0());
    ops::scale_channels_backward(gpu, gx, gs, gdy, nullptr, &gds2);
    EXPECT_TRUE(test::same_bits(gds, gds2));
  }
}

}  // namespace
}  // namespace kestrel
