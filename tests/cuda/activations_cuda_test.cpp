// sigmoid, silu, gelu (both forms), hardswish and relu6 on the GPU against the CPU backend on
// the same random inputs (kinks and large |x| planted among them), outputs poisoned first.
// Tolerances: relu6 and hardswish compare, select, multiply and divide once per element with no
// multiply-add for nvcc to contract, so the GPU must give the CPU's bits. sigmoid, silu and gelu
// call expf/erfcf (CUDA's are within 2 and 4 ulp, glibc's within 1) and nvcc may contract their
// products and sums into FMAs: 2e-6 relative forward, 1e-5 backward, 1e-7 absolute.
#include <gtest/gtest.h>

#include <functional>
#include <iterator>
#include <string>
#include <vector>

#include "engine/ops/activation.hpp"
#include "tests/cuda/cuda_support.hpp"

namespace kestrel {
namespace {

using test::gpu0;
using test::poisoned;

struct GpuActivation {
  std::string name;
  std::function<void(const Context&, const Tensor&, Tensor&)> forward;
  std::function<void(const Context&, const Tensor&, const Tensor&, Tensor&)> backward;
  bool from_output;
  bool exact;
  float lo, hi;
};

std::vector<GpuActivation> activations() {
  using ops::GeluApproximation;
  return {
      {"sigmoid", ops::sigmoid_forward, ops::sigmoid_backward, true, false, -20.0f, 20.0f},
      {"silu", ops::silu_forward, ops::silu_backward, false, false, -20.0f, 20.0f},
      {"gelu_none",
       [](const Context& c, const Tensor& x, Tensor& y) {
         ops::gelu_forward(c, x, y, GeluApproximation::None);
       },
       [](const Context& c, const Tensor& x, const Tensor& dy, Tensor& dx) {
         ops::gelu_backward(c, x, dy, dx, GeluApproximation::None);
       },
       false, false, -8.0f, 8.0f},
      {"gelu_tanh",
       [](const Context& c, const Tensor& x, Tensor& y) {
         ops::gelu_forward(c, x, y, GeluApproximation::Tanh);
       },
       [](const Context& c, const Tensor& x, const Tensor& dy, Tensor& dx) {
         ops::gelu_backward(c, x, dy, dx, GeluApproximation::Tanh);
       },
       false, false, -8.0f, 8.0f},
      {"hardswish", ops::hardswish_forward, ops::hardswish_backward, false, true, -6.0f, 6.0f},
      {"relu6", ops::relu6_forward, ops::relu6_backward, true, true, -3.0f, 9.0f},
  };
}

TEST(CudaActivations, ForwardBackwardMatchCpu) {
  KESTREL_SKIP_WITHOUT_GPU();
  std::mt19937_64 gen(test::test_seed() + 60);
  Context cpu, gpu(gpu0());
  const Shape s{3, 17, 9, 11};
  for (const GpuActivation& a : activations()) {
    SCOPED_TRACE(a.name);
    Tensor x = test::random_tensor(s, gen, a.lo, a.hi);
    float* p = x.data<float>();
    const float planted[] = {-3.0f, 3.0f, 0.0f, 6.0f, -0.0f, 100.0f, -100.0f, 1e30f, -1e30f};
    for (size_t i = 0; i < std::size(planted); ++i) p[i * 7] = planted[i];
    const Tensor dy = test::random_tensor(s, gen);
    Tensor y = Tensor::empty(s), dx = Tensor::empty(s);
    a.forward(cpu, x, y);
    a.backward(cpu, a.from_output ? y : x, dy, dx);
    Tensor gy = poisoned(s, gpu0()), gdx = poisoned(s, gpu0());
    a.forward(gpu, x.to(gpu0()), gy);
    // From the CPU's y where the backward reads the output, so that it compares the backward
    // alone.
    a.backward(gpu, (a.from_output ? y : x).to(gpu0()), dy.to(gpu0()), gdx);
    if (a.exact) {
      EXPECT_TRUE(test::same_bits(y, gy));
      EXPECT_TRUE(test::same_bits(dx, gdx));
    } else {
      EXPECT_TRUE(test::gpu_matches_cpu(y, gy, 2e-6, 1e-7));
      EXPECT_TRUE(test::gpu_matches_cpu(dx, gdx, 1e-5, 1e-7));
    }
  }
}

// In place on the GPU (y is x, dx is dy) gives the out-of-place GPU bits.
TEST(CudaActivations, InPlaceMatchesOutOfPlace) {
  KESTREL_SKIP_WITHOUT_GPU();
  std::mt19937_64 gen(test::test_seed() + 61);
  Context gpu(gpu0());
  const Shape s{2, 5, 7, 7};
  for (const GpuActivation& a : activations()) {
    SCOPED_TRACE(a.name);
    const Tensor x = test::random_tensor(s, gen, a.lo, a.hi).to(gpu0());
    const Tensor dy = test::random_tensor(s, gen).to(gpu0());
    Tensor y = poisoned(s, gpu0()), dx = poisoned(s, gpu0());
    a.forward(gpu, x, y);
    a.backward(gpu, a.from_output ? y : x, dy, dx);
    Tensor xi = x.to(gpu0()), dyi = dy.to(gpu0());
    if (a.from_output) {
      a.forward(gpu, xi, xi);
      a.backward(gpu, xi, dyi, dyi);
    } else {
      a.backward(gpu, xi, dyi, dyi);
      a.forward(gpu, xi, xi);
    }
    EXPECT_TRUE(test::same_bits(y, xi));
    EXPECT_TRUE(test::same_bits(dx, dyi));
  }
}

}  // namespace
}  // namespace kestrel
