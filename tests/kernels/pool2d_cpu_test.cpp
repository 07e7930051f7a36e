// The host max-pooling loops (kernels/cpu/pool2d) against the single-source functors they
// replace on the CPU (kernels/common/pool2d.hpp, which the GPU still runs): the same bits for
// values, argmax and gradients, over geometries that take each path (2x2 and other stride-2
// windows inside the input in SSE groups of four and a scalar tail, clipped and overlapping
// windows, padding, ceil mode), on inputs with ties, NaN, infinities and signed zeros. The
// float64 references and gradchecks of the ops are in tests/engine/pool2d_test.cpp.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <ostream>
#include <random>
#include <string>
#include <vector>

#include "kernels/common/pool2d.hpp"
#include "kernels/cpu/parallel.hpp"
#include "kernels/cpu/pool2d.hpp"
#include "tests/support/random.hpp"

namespace kestrel {
namespace {

using kernels::Pool2dGeometry;

struct Geometry {
  std::string name;
  int planes, in_h, in_w, kernel, stride, pad;
  bool ceil_mode;
};

void PrintTo(const Geometry& c, std::ostream* os) { *os << c.name; }

int pooled(int in, int kernel, int stride, int pad, bool ceil_mode) {
  int out = (in + 2 * pad - kernel + (ceil_mode ? stride - 1 : 0)) / stride + 1;
  if (ceil_mode && (out - 1) * stride >= in + pad) --out;
  return out;
}

Pool2dGeometry geometry(const Geometry& c) {
  return Pool2dGeometry{c.planes,
                        c.in_h,
                        c.in_w,
                        pooled(c.in_h, c.kernel, c.stride, c.pad, c.ceil_mode),
                        pooled(c.in_w, c.kernel, c.stride, c.pad, c.ceil_mode),
                        c.kernel,
                        c.kernel,
                        c.stride,
                        c.stride,
                        c.pad,
                        c.pad,
                        true};
}

// Values on a coarse grid (many ties), with some NaN, +-inf and signed zeros mixed in.
std::vector<float> awkward_values(int64_t n, std::mt19937_64& gen) {
  std::uniform_int_distribution<int> grid(-4, 4), special(0, 39);
  std::vector<float> v(static_cast<size_t>(n));
  for (float& x : v) {
    switch (special(gen)) {
      case 0:
        x = std::numeric_limits<float>::quiet_NaN();
        break;
      case 1:
        x = -INFINITY;
        break;
      case 2:
        x = INFINITY;
        break;
      case 3:
        x = -0.0f;
        break;
      default:
        x = 0.25f * static_cast<float>(grid(gen));
    }
  }
  return v;
}

std::vector<float> random_values(int64_t n, std::mt19937_64& gen) {
  std::uniform_real_distribution<float> u(-1.0f, 1.0f);
  std::vector<float> v(static_cast<size_t>(n));
  for (float& x : v) x = u(gen);
  return v;
}

template <class T>
bool same_bits(const std::vector<T>& a, const std::vector<T>& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(T)) == 0;
}

class MaxPool2dCpuTest : public ::testing::TestWithParam<Geometry> {
 protected:
  Pool2dGeometry g = geometry(GetParam());
  int64_t in_size() const { return g.planes * g.in_h * g.in_w; }
  int64_t out_size() const { return g.planes * g.out_h * g.out_w; }
};

TEST_P(MaxPool2dCpuTest, ForwardMatchesFunctorBitwise) {
  std::mt19937_64 gen(test::test_seed());
  for (const bool awkward : {false, true}) {
    SCOPED_TRACE(awkward ? "ties, NaN, inf, -0" : "uniform values");
    const std::vector<float> x =
        awkward ? awkward_values(in_size(), gen) : random_values(in_size(), gen);
    std::vector<float> y(static_cast<size_t>(out_size())), y_ref(y.size());
    std::vector<int32_t> argmax(y.size(), -7), argmax_ref(y.size(), -7);
    cpu::max_pool2d_forward(g, x.data(), y.data(), argmax.data());
    cpu::launch(out_size(),
                kernels::MaxPool2dForward{g, x.data(), y_ref.data(), argmax_ref.data()});
    EXPECT_TRUE(same_bits(y, y_ref));
    EXPECT_EQ(argmax, argmax_ref);
  }
}

TEST_P(MaxPool2dCpuTest, BackwardMatchesFunctorBitwise) {
  std::mt19937_64 gen(test::test_seed() + 1);
  for (const bool awkward : {false, true}) {
    SCOPED_TRACE(awkward ? "ties, NaN, inf, -0" : "uniform values");
    const std::vector<float> x =
        awkward ? awkward_values(in_size(), gen) : random_values(in_size(), gen);
    // Gradients with -0.0 among them: 0 + -0 is +0, so a plain copy would differ in sign.
    std::vector<float> dy = random_values(out_size(), gen);
    for (size_t i = 0; i < dy.size(); i += 3) dy[i] = -0.0f;
    std::vector<float> y(dy.size());
    std::vector<int32_t> argmax(dy.size());
    cpu::launch(out_size(), kernels::MaxPool2dForward{g, x.data(), y.data(), argmax.data()});
    std::vector<float> dx = random_values(in_size(), gen);  // garbage: must be overwritten
    std::vector<float> dx_ref(dx.size());
    cpu::max_pool2d_backward(g, dy.data(), argmax.data(), dx.data());
    cpu::launch(in_size(), kernels::MaxPool2dBackward{g, dy.data(), argmax.data(), dx_ref.data()});
    EXPECT_TRUE(same_bits(dx, dx_ref));
  }
}

INSTANTIATE_TEST_SUITE_P(
    Geometries, MaxPool2dCpuTest,
    ::testing::Values(
        // 2x2 stride 2 inside the input: SSE groups of four windows, then the scalar tail.
        Geometry{"lenet_pool1", 7, 24, 24, 2, 2, 0, false},
        Geometry{"lenet_pool2", 5, 8, 8, 2, 2, 0, false},
        Geometry{"k2s2_tail_and_uncovered_edge", 3, 11, 21, 2, 2, 0, false},
        Geometry{"k2s2_narrow", 2, 6, 6, 2, 2, 0, false},
        // 2x2 stride 2 whose last windows are clipped or padded: the general loops.
        Geometry{"k2s2_ceil", 2, 9, 19, 2, 2, 0, true},
        Geometry{"k2s2_pad1", 2, 10, 12, 2, 2, 1, false},
        // Overlapping windows: the backward scatter adds several gradients into one element.
        // Stride-2 windows inside the input: SSE groups of four while a group's loads stay in
        // the row, then the scalar tail (AlexNet's three pools; a 5x5 kernel; a ceil-mode
        // geometry whose windows all fit, and a floor one with an uncovered last column).
        Geometry{"alexnet_k3s2", 4, 15, 15, 3, 2, 0, false},
        Geometry{"alexnet_k3s2_32", 3, 32, 32, 3, 2, 0, false},
        Geometry{"alexnet_k3s2_7", 3, 7, 7, 3, 2, 0, false},
        Geometry{"k5s2", 2, 23, 29, 5, 2, 0, false},
        Geometry{"k3s2_ceil_inside", 2, 13, 21, 3, 2, 0, true},
        Geometry{"k3s2_uncovered_edge", 2, 12, 24, 3, 2, 0, false},
        Geometry{"k3s1_pad1", 2, 7, 9, 3, 1, 1, false},
        Geometry{"k3s2_ceil_pad1", 2, 8, 9, 3, 2, 1, true},
        Geometry{"k1s1", 2, 5, 7, 1, 1, 0, false},
        Geometry{"gapped_k2s3", 2, 11, 13, 2, 3, 0, false}),
    [](const ::testing::TestParamInfo<Geometry>& param) { return param.param.name; });

// Planes are split between threads; the results must not depend on how many there are.
TEST(MaxPool2dCpu, ThreadCountDoesNotChangeResults) {
  std::mt19937_64 gen(test::test_seed() + 2);
  for (const Geometry& c : {Geometry{"lenet_pool1", 64 * 6, 24, 24, 2, 2, 0, false},
                            Geometry{"alexnet", 37, 15, 15, 3, 2, 0, false}}) {
    SCOPED_TRACE(c.name);
    const Pool2dGeometry g = geometry(c);
    const int64_t in_size = g.planes * g.in_h * g.in_w, out_size = g.planes * g.out_h * g.out_w;
    const std::vector<float> x = random_values(in_size, gen), dy = random_values(out_size, gen);
    auto run = [&](int threads) {
      cpu::set_num_threads(threads);
      std::vector<float> y(static_cast<size_t>(out_size)), dx(static_cast<size_t>(in_size));
      std::vector<int32_t> argmax(y.size());
      cpu::max_pool2d_forward(g, x.data(), y.data(), argmax.data());
      cpu::max_pool2d_backward(g, dy.data(), argmax.data(), dx.data());
      y.insert(y.end(), dx.begin(), dx.end());
      return std::make_pair(y, argmax);
    };
    const auto one = run(1), two = run(2);
    cpu::set_num_threads(0);
    EXPECT_TRUE(same_bits(one.first, two.first));
    EXPECT_EQ(one.second, two.second);
  }
}

// The scatter writes only where argmax points inside the plane; anything else is ignored (the
// gather ignores it too), so a corrupted argmax cannot write out of bounds.
TEST(MaxPool2dCpu, ArgmaxOutsideThePlaneIsIgnored) {
  const Pool2dGeometry g = geometry(Geometry{"k2s2", 2, 4, 4, 2, 2, 0, false});
  const std::vector<int32_t> argmax{0, 3, 8, 15, -1, 16, 1 << 30, 10};
  const std::vector<float> dy{1, 2, 3, 4, 5, 6, 7, 8};
  std::vector<float> dx(32, 99.0f), dx_ref(32);
  cpu::max_pool2d_backward(g, dy.data(), argmax.data(), dx.data());
  cpu::launch(32, kernels::MaxPool2dBackward{g, dy.data(), argmax.data(), dx_ref.data()});
  std::vector<float> expected(32, 0.0f);
  expected[0] = 1, expected[3] = 2, expected[8] = 3, expected[15] = 4, expected[16 + 10] = 8;
  EXPECT_EQ(dx, expected);
  EXPECT_EQ(dx_ref, expected);
}

}  // namespace
}  // namespace kestrel
