// Fixed parameter starts (nn::ParamInit) that Conv2dOptions and LinearOptions give a layer's
// weight and bias, whatever the graph's scheme: the statistics of each draw against its
// definition, computed here in float64 (torchvision's model-specific starts rely on them).
#include <gtest/gtest.h>

#include <cmath>
#include <map>
#include <string>

#include "engine/init/init.hpp"
#include "engine/nn/conv2d.hpp"
#include "engine/nn/flatten.hpp"
#include "engine/nn/graph.hpp"
#include "engine/nn/linear.hpp"
#include "tests/support/moments.hpp"
#include "tests/support/random.hpp"

namespace kestrel {
namespace {

using nn::ParamInit;

std::unique_ptr<nn::Graph> graph_with_fixed_starts() {
  auto g = std::make_unique<nn::Graph>();
  // 64 x 32 x 3 x 3 = 18,432 draws each; biases of 64 constants or draws.
  g->add<nn::Conv2d>("normal", 32, 64, 3,
                     nn::Conv2dOptions{.padding = 1,
                                       .weight_init = ParamInit::Normal,
                                       .weight_scale = 0.01f,
                                       .bias_init = ParamInit::Zeros});
  g->add<nn::Conv2d>("fan_in", 64, 32, 3,
                     nn::Conv2dOptions{.padding = 1,
                                       .weight_init = ParamInit::KaimingNormalFanIn,
                                       .bias_init = ParamInit::Uniform,
                                       .bias_scale = 0.3f});
  g->add<nn::Flatten>("flatten");
  g->add<nn::Linear>("fc", 32 * 4 * 4, 1000,
                     nn::LinearOptions{.weight_init = ParamInit::Uniform,
                                       .weight_scale = 0.05f,
                                       .bias_init = ParamInit::Normal,
                                       .bias_scale = 1e-6f});
  return g;
}

TEST(ParamStarts, ConvAndLinearOptionsDrawTheirOwnStartsUnderEveryScheme) {
  for (const auto scheme : {init::InitScheme::PyTorchDefault, init::InitScheme::XavierUniform,
                            init::InitScheme::KaimingNormal}) {
    Context ctx;
    auto g = graph_with_fixed_starts();
    g->build(ctx, Shape{32, 4, 4}, 1, 1000);
    g->initialize(ctx, scheme, test::test_seed());
    std::map<std::string, test::Moments> m;
    for (const nn::NamedTensor& p : g->named_parameters()) m[p.name] = test::moments(p.tensor);

    EXPECT_NEAR(m["normal.weight"].stddev, 0.01, 0.03 * 0.01);
    EXPECT_NEAR(m["normal.weight"].mean, 0.0, 0.05 * 0.01);  // 6.8 standard errors
    EXPECT_EQ(m["normal.bias"].max_abs, 0.0);
    // kaiming_normal_(mode="fan_in", nonlinearity="relu"): sqrt(2 / (64 * 3 * 3)).
    const double fan_in_std = std::sqrt(2.0 / (64.0 * 9.0));
    EXPECT_NEAR(m["fan_in.weight"].stddev, fan_in_std, 0.03 * fan_in_std);
    // U(-0.3, 0.3) over 32 draws: inside the bound, not a constant. The bound is the float
    // 0.3f, a little above 0.3, and a draw may land on it.
    EXPECT_LE(m["fan_in.bias"].max_abs, static_cast<double>(0.3f));
    EXPECT_GT(m["fan_in.bias"].stddev, 0.05);
    // U(-b, b): standard deviation b / sqrt(3), over 512,000 draws.
    EXPECT_LE(m["fc.weight"].max_abs, static_cast<double>(0.05f));
    EXPECT_GT(m["fc.weight"].max_abs, 0.0499);
    EXPECT_NEAR(m["fc.weight"].stddev, 0.05 / std::sqrt(3.0), 0.01 * 0.05 / std::sqrt(3.0));
    EXPECT_NEAR(m["fc.bias"].stddev, 1e-6, 0.15e-6);  // 1,000 draws: 6.7 standard errors
  }
}

TEST(ParamStarts, ASchemeBiasBesideAFixedWeightIsRefusedAtPlanning) {
  nn::Graph g;
  g.add<nn::Flatten>("flatten");
  g.add<nn::Linear>("fc", 12, 3, nn::LinearOptions{.weight_init = ParamInit::Zeros});
  try {
    g.plan(Shape{3, 2, 2}, 1, 3);
    FAIL() << "planned a scheme bias whose weight the scheme does not draw";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("layer fc starts its bias by the initialisation scheme "
                                         "but not its weight"),
              std::string::npos)
        << e.what();
  }
}

}  // namespace
}  // namespace kestrel
