// Pooling and LRN on the GPU against the CPU backend. The functors are shared, so these tests
// show the launches are right: every element written, same windows, same argmax. Tolerances:
// max pooling is exact; averages and LRN allow 1e-6 relative (nvcc may contract a*b+c to FMA).
#include <fmt/format.h>
#include <gtest/gtest.h>

#include "engine/ops/lrn.hpp"
#include "engine/ops/pool2d.hpp"
#include "tests/cuda/cuda_support.hpp"

namespace kestrel {
namespace {

using test::gpu0;
using test::poisoned;

struct PoolCase {
  Shape input;
  ops::Pool2dSpec spec;
};

// "x4x6x28x28_k2s2p0": the case in test names and failure messages.
std::string case_name(const PoolCase& c) {
  return fmt::format("x{}_k{}s{}p{}{}{}", test::name_of(c.input), c.spec.kernel_h, c.spec.stride_h,
                     c.spec.pad_h, c.spec.ceil_mode ? "_ceil" : "",
                     c.spec.count_include_pad ? "" : "_nopad");
}
void PrintTo(const PoolCase& c, std::ostream* os) { *os << case_name(c); }

class CudaPool2d : public ::testing::TestWithParam<PoolCase> {};

TEST_P(CudaPool2d, MaxForwardAndBackwardMatchCpu) {
  KESTREL_SKIP_WITHOUT_GPU();
  const auto& [input, spec] = GetParam();
  std::mt19937_64 gen(test::test_seed());
  Context cpu, gpu(gpu0());
  const Shape out = ops::pool2d_output_shape(input, spec);
  const Tensor x = test::random_tensor(input, gen), dy = test::random_tensor(out, gen);
  Tensor y = Tensor::empty(out), arg = Tensor::empty(out, DType::I32), dx = Tensor::empty(input);
  ops::max_pool2d_forward(cpu, x, y, arg, spec);
  ops::max_pool2d_backward(cpu, dy, arg, dx, spec);

  Tensor gy = poisoned(out, gpu0()), garg = poisoned(out, gpu0(), DType::I32);
  Tensor gdx = poisoned(input, gpu0());
  ops::max_pool2d_forward(gpu, x.to(gpu0()), gy, garg, spec);
  ops::max_pool2d_backward(gpu, dy.to(gpu0()), garg, gdx, spec);
  EXPECT_TRUE(test::gpu_matches_cpu(y, gy, 0.0, 0.0));
  EXPECT_TRUE(test::gpu_equals_cpu_ints(arg, garg));
  EXPECT_TRUE(test::gpu_matches_cpu(dx, gdx, 1e-6, 1e-7));
}

TEST_P(CudaPool2d, AvgForwardAndBackwardMatchCpu) {
  KESTREL_SKIP_WITHOUT_GPU();
  const auto& [input, spec] = GetParam();
  std::mt19937_64 gen(test::test_seed() + 1);
  Context cpu, gpu(gpu0());
  const Shape out = ops::pool2d_output_shape(input, spec);
  const Tensor x = test::random_tensor(input, gen), dy = test::random_tensor(out, gen);
  Tensor y = Tensor::empty(out), dx = Tensor::empty(input);
  ops::avg_pool2d_forward(cpu, x, y, spec);
  ops::avg_pool2d_backward(cpu, dy, dx, spec);
  Tensor gy = poisoned(out, gpu0()), gdx = poisoned(input, gpu0());
  ops::avg_pool2d_forward(gpu, x.to(gpu0()), gy, spec);
  ops::avg_pool2d_backward(gpu, dy.to(gpu0()), gdx, spec);
  EXPECT_TRUE(test::gpu_matches_cpu(y, gy, 1e-6, 1e-7));
  EXPECT_TRUE(test::gpu_matches_cpu(dx, gdx, 1e-6, 1e-7));
}

PoolCase make_case(Shape s, int k, int stride, int pad, bool ceil, bool include_pad = true) {
  ops::Pool2dSpec spec{k, k, stride, stride, pad, pad, ceil, include_pad};
  return {s, spec};
}

INSTANTIATE_TEST_SUITE_P(Cases, CudaPool2d,
                         ::testing::Values(make_case(Shape{4, 6, 28, 28}, 2, 2, 0, false),
                                           make_case(Shape{2, 64, 32, 32}, 3, 2, 0, false),
                                           make_case(Shape{1, 3, 7, 9}, 3, 2, 1, true, false),
                                           make_case(Shape{3, 5, 5, 5}, 2, 2, 0, true)),
                         [](const ::testing::TestParamInfo<PoolCase>& param) {
                           return case_name(param.param);
                         });

TEST(CudaAdaptiveAvgPool2d, ThreeByThreeToSixBySixMatchesCpu) {
  KESTREL_SKIP_WITHOUT_GPU();
  std::mt19937_64 gen(test::test_seed() + 2);
  Context cpu, gpu(gpu0());
  const Shape in{8, 256, 3, 3}, out{8, 256, 6, 6};
  const Tensor x = test::random_tensor(in, gen), dy = test::random_tensor(out, gen);
  Tensor y = Tensor::empty(out), dx = Tensor::empty(in);
  ops::adaptive_avg_pool2d_forward(cpu, x, y);
  ops::adaptive_avg_pool2d_backward(cpu, dy, dx);
  Tensor gy = poisoned(out, gpu0()), gdx = poisoned(in, gpu0());
  ops::adaptive_avg_pool2d_forward(gpu, x.to(gpu0()), gy);
  ops::adaptive_avg_pool2d_backward(gpu, dy.to(gpu0()), gdx);
  EXPECT_TRUE(test::gpu_matches_cpu(y, gy, 1e-6, 1e-7));
  EXPECT_TRUE(test::gpu_matches_cpu(dx, gdx, 1e-6, 1e-7));
}

TEST(CudaLrn, ForwardAndBackwardMatchCpu) {
  KESTREL_SKIP_WITHOUT_GPU();
  std::mt19937_64 gen(test::test_seed() + 3);
  Context cpu, gpu(gpu0());
  const Shape shape{4, 96, 13, 13};
  const ops::LrnSpec spec{5, 1e-4f, 0.75f, 2.0f};
  const Tensor x = test::random_tensor(shape, gen, -3.0f, 3.0f),
               dy = test::random_tensor(shape, gen);
  Tensor y = Tensor::empty(shape), scale = Tensor::empty(shape), dx = Tensor::empty(shape);
  ops::lrn_forward(cpu, x, y, scale, spec);
  ops::lrn_backward(cpu, x, y, scale, dy, dx, spec);
  const Tensor gx = x.to(gpu0());
  Tensor gy = poisoned(shape, gpu0()), gscale = poisoned(shape, gpu0()),
         gdx = poisoned(shape, gpu0());
  ops::lrn_forward(gpu, gx, gy, gscale, spec);
  ops::lrn_backward(gpu, gx, gy, gscale, dy.to(gpu0()), gdx, spec);
  EXPECT_TRUE(test::gpu_matches_cpu(y, gy, 1e-5, 1e-7));
  EXPECT_TRUE(test::gpu_matches_cpu(scale, gscale, 1e-6, 1e-7));
  EXPECT_TRUE(test::gpu_matches_cpu(dx, gdx, 1e-5, 1e-7));
}

}  // namespace
}  // namespace kestrel
