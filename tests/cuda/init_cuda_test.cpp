// Weight initialisation on the GPU against the CPU, outputs poisoned first: the uniform fill
// (every scheme kestrel's models use by default) gives the CPU's bits, so a run from a seed
// starts from the same weights on either backend; the normal fill agrees to a few ulps (the
// GPU's logf/cosf are not the host's).
#include <gtest/gtest.h>

#include <utility>

#include "engine/init/init.hpp"
#include "tests/cuda/cuda_support.hpp"

namespace kestrel {
namespace {

using test::gpu0;
using test::poisoned;

TEST(CudaInit, UniformFillIsBitEqualToTheCpu) {
  KESTREL_SKIP_WITHOUT_GPU();
  std::mt19937_64 gen(test::test_seed());
  Context cpu, gpu(gpu0());
  const Shape s{257, 129};  // odd sizes: no element count the launch divides evenly
  for (const auto& [lo, hi] : {std::pair{-0.0732f, 0.0732f}, std::pair{-3.0f, 1.25f}}) {
    const uint64_t seed = gen(), stream = gen() % 1000;
    Tensor c = Tensor::empty(s);
    init::uniform(cpu, c, lo, hi, seed, stream);
    Tensor g = poisoned(s, gpu0());
    init::uniform(gpu, g, lo, hi, seed, stream);
    EXPECT_EQ(c.to_vector(), g.to_vector()) << "lo " << lo << ", hi " << hi;
  }
}

TEST(CudaInit, NormalFillAgreesWithTheCpuToAFewUlps) {
  KESTREL_SKIP_WITHOUT_GPU();
  std::mt19937_64 gen(test::test_seed() + 1);
  Context cpu, gpu(gpu0());
  const Shape s{127, 65};
  const uint64_t seed = gen(), stream = 7;
  Tensor c = Tensor::empty(s);
  init::normal(cpu, c, 0.5f, 0.02f, seed, stream);
  Tensor g = poisoned(s, gpu0());
  init::normal(gpu, g, 0.5f, 0.02f, seed, stream);
  EXPECT_TRUE(test::gpu_matches_cpu(c, g, 1e-6, 1e-7));
}

}  // namespace
}  // namespace kestrel
