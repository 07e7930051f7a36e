// GoogLeNet's and DenseNet-121's starts are torchvision's whatever the graph's scheme:
// googlenet N(0, 0.01^2) convolution and fc weights (its trunc_normal_ at 200 deviations) with
// fc's bias nn.Linear's default, densenet121 kaiming_normal_ fan-in convolutions with the
// classifier's weight nn.Linear's default and its bias 0. Statistics in float64 over the draws.
#include <gtest/gtest.h>

#include <cmath>
#include <map>
#include <string>

#include "engine/init/init.hpp"
#include "models/registry.hpp"
#include "tests/support/moments.hpp"
#include "tests/support/random.hpp"

namespace kestrel {
namespace {

std::map<std::string, test::Moments> initialised(const char* model, init::InitScheme scheme) {
  Context ctx;
  auto g = models::build_model(model, models::ModelInput{3, 32, 32, 10});
  g->build(ctx, 1);
  g->initialize(ctx, scheme, test::test_seed());
  std::map<std::string, test::Moments> out;
  for (const nn::NamedTensor& p : g->named_parameters()) out[p.name] = test::moments(p.tensor);
  return out;
}

TEST(ModelStarts, GooglenetIsTorchvisions) {
  for (const auto scheme : {init::InitScheme::PyTorchDefault, init::InitScheme::KaimingNormal}) {
    auto m = initialised("googlenet", scheme);
    // 384 x 832 and 256 x 832 1x1 weights: 319,488 and 212,992 draws; fc 10 x 1024.
    EXPECT_NEAR(m["inception5b.branch1.conv.weight"].stddev, 0.01, 0.0003);
    EXPECT_NEAR(m["inception5a.branch1.conv.weight"].stddev, 0.01, 0.0003);
    EXPECT_NEAR(m["fc.weight"].stddev, 0.01, 0.001);
    EXPECT_EQ(m["inception3a.branch1.bn.weight"].stddev, 0.0);  // all 1
    // U(-1/32, 1/32) over 10 draws.
    EXPECT_LE(m["fc.bias"].max_abs, 1.0 / 32.0);
    EXPECT_GT(m["fc.bias"].stddev, 0.0);
  }
}

TEST(ModelStarts, Densenet121IsTorchvisions) {
  for (const auto scheme : {init::InitScheme::PyTorchDefault, init::InitScheme::XavierUniform}) {
    auto m = initialised("densenet121", scheme);
    // denselayer conv2: [32, 128, 3, 3], fan_in 1152: sqrt(2 / 1152), 36,864 draws.
    const double conv2 = std::sqrt(2.0 / 1152.0);
    EXPECT_NEAR(m["features.denseblock3.denselayer7.conv2.weight"].stddev, conv2, 0.02 * conv2);
    // transition3.conv: [512, 1024, 1, 1], fan_in 1024.
    const double transition = std::sqrt(2.0 / 1024.0);
    EXPECT_NEAR(m["features.transition3.conv.weight"].stddev, transition, 0.02 * transition);
    // nn.Linear's default on [10, 1024]: U(-1/32, 1/32), deviation 1 / (32 sqrt 3).
    const double bound = 1.0 / 32.0;
    EXPECT_LE(m["classifier.weight"].max_abs, bound);
    EXPECT_NEAR(m["classifier.weight"].stddev, bound / std::sqrt(3.0), 0.05 * bound);
    EXPECT_EQ(m["classifier.bias"].max_abs, 0.0);
  }
}

}  // namespace
}  // namespace kestrel
