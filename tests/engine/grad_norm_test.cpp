// Global-norm gradient clipping against a float64 reference (torch's clip_grad_norm_ rule).
#include "engine/ops/grad_norm.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>

#include "kernels/cpu/parallel.hpp"
#include "tests/support/compare.hpp"
#include "tests/support/random.hpp"

namespace kestrel {
namespace {

double reference_norm(const Tensor& t) {
  double s = 0.0;
  for (double v : test::to_double(t)) s += v * v;
  return std::sqrt(s);
}

TEST(GradNorm, NormMatchesFloat64OnOddSizes) {
  std::mt19937_64 gen(test::test_seed());
  Context ctx;
  for (int64_t n : {1, 7, 16384, 16385, 100003}) {
    const Tensor g = test::random_tensor(Shape{n}, gen);
    EXPECT_NEAR(ops::l2_norm(ctx, g), reference_norm(g), 1e-12 * reference_norm(g)) << n;
  }
}

TEST(GradNorm, ClipsOnlyAboveTheThreshold) {
  std::mt19937_64 gen(test::test_seed() + 1);
  Context ctx;
  Tensor g = test::random_tensor(Shape{5000}, gen);
  const double norm = reference_norm(g);
  const auto before = test::to_double(g);

  Tensor untouched = g.to(Device::cpu());
  EXPECT_NEAR(ops::clip_grad_norm(ctx, untouched, norm * 2), norm, 1e-9 * norm);
  EXPECT_TRUE(test::all_close(before, untouched, 0.0, 0.0));

  const double returned = ops::clip_grad_norm(ctx, g, 1.0);
  EXPECT_NEAR(returned, norm, 1e-9 * norm);
  std::vector<double> expected = before;
  const double coef = 1.0 / (norm + 1e-6);
  for (double& v : expected) v *= static_cast<double>(static_cast<float>(coef));
  EXPECT_TRUE(test::all_close(expected, g, 1e-6, 0.0));
  EXPECT_NEAR(reference_norm(g), 1.0, 1e-5);
}

TEST(GradNorm, OnDeviceClippingIsTheHostClippingBitForBit) {
  // Above the threshold, below it, and a NaN gradient (left as it is by both).
  std::mt19937_64 gen(test::test_seed() + 3);
  Context ctx;
  for (double max_norm : {0.5, 1e6}) {
    for (bool nan : {false, true}) {
      SCOPED_TRACE(testing::Message() << "max_norm " << max_norm << (nan ? " with a NaN" : ""));
      Tensor host = test::random_tensor(Shape{40001}, gen);
      if (nan) host.data<float>()[17] = std::nanf("");
      Tensor device = host.to(Device::cpu());
      ops::clip_grad_norm(ctx, host, max_norm);
      ops::clip_grad_norm_on_device(ctx, device, max_norm);
      EXPECT_EQ(std::memcmp(host.data<float>(), device.data<float>(), host.nbytes()), 0);
    }
  }
}

TEST(GradNorm, SameBitsWithOneAndTwoThreads) {
  std::mt19937_64 gen(test::test_seed() + 2);
  Context ctx;
  const Tensor g = test::random_tensor(Shape{200001}, gen);
  cpu::set_num_threads(1);
  const double one = ops::l2_norm(ctx, g);
  cpu::set_num_threads(2);
  const double two = ops::l2_norm(ctx, g);
  cpu::set_num_threads(0);
  EXPECT_EQ(std::memcmp(&one, &two, sizeof(double)), 0);
}

TEST(GradNorm, NonPositiveMaxNormIsAnError) {
  Context ctx;
  Tensor g = Tensor::zeros(Shape{4});
  try {
    ops::clip_grad_norm(ctx, g, 0.0);
    FAIL() << "expected kestrel::Error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("clip_grad_norm: max_norm must be positive"),
              std::string::npos);
  }
}

}  // namespace
}  // namespace kestrel
