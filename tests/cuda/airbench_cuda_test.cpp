// What airbench94 added, on the GPU against the CPU backend: the dirac start of a convolution
// weight and the lookahead pull over a graph's parameters and running statistics. Both copy
// values or round each product and sum apart, so the GPU must give the CPU's bits.
#include <gtest/gtest.h>

#include <vector>

#include "engine/init/init.hpp"
#include "engine/train/lookahead.hpp"
#include "models/registry.hpp"
#include "tests/cuda/cuda_support.hpp"

namespace kestrel {
namespace {

using test::gpu0;

TEST(CudaAirbench, DiracStartMatchesCpu) {
  KESTREL_SKIP_WITHOUT_GPU();
  std::mt19937_64 gen(test::test_seed() + 140);
  Context cpu, gpu(gpu0());
  for (const Shape& s : {Shape{64, 24, 3, 3}, Shape{8, 8, 2, 2}, Shape{5, 7, 3, 3}}) {
    SCOPED_TRACE(s.str());
    Tensor w = test::random_tensor(s, gen);
    Tensor gw = w.to(gpu0());
    init::partial_dirac(cpu, w);
    init::partial_dirac(gpu, gw);
    EXPECT_TRUE(test::same_bits(w, gw));
  }
}

TEST(CudaAirbench, LookaheadPullMatchesCpu) {
  KESTREL_SKIP_WITHOUT_GPU();
  std::mt19937_64 gen(test::test_seed() + 141);
  const models::ModelInput in{3, 32, 32, 10};
  Context cpu, gpu(gpu0());
  auto a = models::build_model("airbench94", in);
  auto b = models::build_model("airbench94", in);
  a->build(cpu, 2);
  b->build(gpu, 2);
  a->initialize(cpu, init::InitScheme::PyTorchDefault, 3);
  b->initialize(gpu, init::InitScheme::PyTorchDefault, 3);
  train::Lookahead la(0.95, 1), lb(0.95, 1);
  la.start(cpu, *a);
  lb.start(gpu, *b);
  for (int64_t n = 1; n <= 3; ++n) {
    const Tensor p = test::random_tensor(a->parameters().shape(), gen);
    a->parameters().copy_from(p);
    b->parameters().copy_from(p.to(gpu0()));
    la.after_step(cpu, *a, n, 3, nullptr);
    lb.after_step(gpu, *b, n, 3, nullptr);
  }
  // The lerp rounds its product and sum apart on both devices: the same bits.
  EXPECT_TRUE(test::same_bits(a->parameters(), b->parameters()));
  const auto sa = la.slow_tensors(*a), sb = lb.slow_tensors(*b);
  ASSERT_EQ(sa.size(), sb.size());
  for (size_t i = 0; i < sa.size(); ++i)
    EXPECT_TRUE(test::same_bits(sa[i].tensor, sb[i].tensor)) << sa[i].name;
}

}  // namespace
}  // namespace kestrel
