// zero_pad_shortcut on the GPU against the CPU backend on the same random inputs, outputs
// poisoned first. Both directions copy values or write zeros: the GPU must give the CPU's bits.
#include <gtest/gtest.h>

#include "engine/ops/zero_pad_shortcut.hpp"
#include "tests/cuda/cuda_support.hpp"

namespace kestrel {
namespace {

using test::gpu0;
using test::poisoned;

TEST(CudaZeroPadShortcut, ForwardBackwardMatchCpu) {
  KESTREL_SKIP_WITHOUT_GPU();
  std::mt19937_64 gen(test::test_seed() + 63);
  Context cpu, gpu(gpu0());
  struct Case {
    Shape input;
    ops::ZeroPadShortcutSpec spec;
  };
  for (const Case& c : {Case{Shape{128, 16, 32, 32}, {2, 32, 8}},
                        Case{Shape{3, 5, 7, 9}, {3, 9, 1}}, Case{Shape{2, 4, 1, 1}, {2, 8, 2}}}) {
    SCOPED_TRACE(c.input.str());
    const Shape out = ops::zero_pad_shortcut_output_shape(c.input, c.spec);
    const Tensor x = test::random_tensor(c.input, gen), dy = test::random_tensor(out, gen);
    Tensor y = Tensor::empty(out), dx = Tensor::empty(c.input);
    ops::zero_pad_shortcut_forward(cpu, x, y, c.spec);
    ops::zero_pad_shortcut_backward(cpu, dy, dx, c.spec);
    Tensor gy = poisoned(out, gpu0()), gdx = poisoned(c.input, gpu0());
    ops::zero_pad_shortcut_forward(gpu, x.to(gpu0()), gy, c.spec);
    ops::zero_pad_shortcut_backward(gpu, dy.to(gpu0()), gdx, c.spec);
    EXPECT_TRUE(test::same_bits(y, gy));
    EXPECT_TRUE(test::same_bits(dx, gdx));
  }
}

}  // namespace
}  // namespace kestrel
