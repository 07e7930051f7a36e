// tanh on the GPU against the CPU backend on the same random inputs, outputs poisoned first.
// Tolerance: CUDA's tanhf is within 2 ulp and nvcc may contract dy * (1 - y*y) into an FMA, so
// 1e-6 relative with 1e-7 absolute, not bit equality.
#include <gtest/gtest.h>

#include "engine/ops/activation.hpp"
#include "tests/cuda/cuda_support.hpp"

namespace kestrel {
namespace {

using test::gpu0;
using test::poisoned;

TEST(CudaTanh, ForwardBackwardMatchCpu) {
  KESTREL_SKIP_WITHOUT_GPU();
  std::mt19937_64 gen(test::test_seed());
  Context cpu, gpu(gpu0());
  const Shape s{3, 17, 9, 11};
  const Tensor x = test::random_tensor(s, gen, -3.0f, 3.0f), dy = test::random_tensor(s, gen);
  Tensor y = Tensor::empty(s), dx = Tensor::empty(s);
  ops::tanh_forward(cpu, x, y);
  ops::tanh_backward(cpu, y, dy, dx);
  Tensor gy = poisoned(s, gpu0()), gdx = poisoned(s, gpu0());
  ops::tanh_forward(gpu, x.to(gpu0()), gy);
  // The backward from the CPU's y, so that it compares the backward alone.
  ops::tanh_backward(gpu, y.to(gpu0()), dy.to(gpu0()), gdx);
  EXPECT_TRUE(test::gpu_matches_cpu(y, gy, 1e-6, 1e-7));
  EXPECT_TRUE(test::gpu_matches_cpu(dx, gdx, 1e-6, 1e-7));
}

}  // namespace
}  // namespace kestrel
