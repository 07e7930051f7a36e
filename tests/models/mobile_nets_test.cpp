// MobileNetV2 and EfficientNet-B0: parameter counts and state_dict entries against
// torchvision 0.14's (mobilenet_v2: 3,504,872 parameters, 314 entries of which 52 batch norms'
// num_batches_tracked and 34,112 running-statistic values; efficientnet_b0: 5,288,548, 360,
// 49 and 42,016), the CIFAR forms' shapes, torchvision's starts and drop-path rates, and the
// same bits on 1 and 2 threads. Numerical parity with PyTorch is bench/pytorch/parity.py
// (ctest parity.*).
#include <gtest/gtest.h>

#include <cmath>
#include <map>
#include <random>
#include <string>

#include "engine/init/init.hpp"
#include "engine/nn/summary.hpp"
#include "models/registry.hpp"
#include "tests/support/moments.hpp"
#include "tests/support/random.hpp"
#include "tests/support/thread_determinism.hpp"

namespace kestrel {
namespace {

using models::ModelInput;

const ModelInput kCifar{3, 32, 32, 10};
const ModelInput kImagenet{3, 224, 224, 1000};

struct StateDict {
  std::map<std::string, Shape> shapes;
  int64_t counters = 0, running_values = 0;
};

StateDict state_dict(const nn::Graph& g) {
  StateDict sd;
  for (const nn::ParamInfo& p : g.parameter_infos()) sd.shapes[p.name] = p.shape;
  for (const nn::StateInfo& s : g.state_infos()) {
    sd.shapes[s.name] = s.shape;
    if (s.dtype == DType::I64) ++sd.counters;
    if (s.dtype == DType::F32) sd.running_values += s.shape.numel();
  }
  return sd;
}

// The output shape of the node named `name` for batch 1.
Shape output_of(const nn::Graph& g, const std::string& name) {
  for (int i = 0; i < g.size(); ++i)
    if (g.layer(i).name() == name) return g.output_shape(i);
  ADD_FAILURE() << "no layer " << name;
  return Shape{};
}

TEST(MobileNets, MobilenetV2IsTorchvisions) {
  const auto g = models::build_model("mobilenet_v2", kImagenet);
  EXPECT_EQ(g->parameter_count(), 3'504'872);
  const StateDict sd = state_dict(*g);
  EXPECT_EQ(sd.shapes.size(), 314u);
  EXPECT_EQ(sd.counters, 52);
  EXPECT_EQ(sd.running_values, 34'112);
  EXPECT_EQ(sd.shapes.at("features.0.0.weight"), (Shape{32, 3, 3, 3}));
  // features.1: no expansion, so its units are depthwise, projection, batch norm.
  EXPECT_EQ(sd.shapes.at("features.1.conv.0.0.weight"), (Shape{32, 1, 3, 3}));
  EXPECT_EQ(sd.shapes.at("features.1.conv.1.weight"), (Shape{16, 32, 1, 1}));
  EXPECT_EQ(sd.shapes.at("features.1.conv.2.running_var"), (Shape{16}));
  EXPECT_EQ(sd.shapes.at("features.2.conv.0.0.weight"), (Shape{96, 16, 1, 1}));
  EXPECT_EQ(sd.shapes.at("features.2.conv.1.0.weight"), (Shape{96, 1, 3, 3}));
  EXPECT_EQ(sd.shapes.at("features.17.conv.2.weight"), (Shape{320, 960, 1, 1}));
  EXPECT_EQ(sd.shapes.at("features.18.0.weight"), (Shape{1280, 320, 1, 1}));
  EXPECT_EQ(sd.shapes.at("classifier.1.weight"), (Shape{1000, 1280}));
  EXPECT_EQ(output_of(*g, "features.18.2"), (Shape{1, 1280, 7, 7}));
  // Residuals where stride 1 meets equal widths: 10 of the 17 blocks.
  int adds = 0;
  for (int i = 0; i < g->size(); ++i) adds += g->layer(i).type() == "Add";
  EXPECT_EQ(adds, 10);
}

TEST(MobileNets, EfficientnetB0IsTorchvisions) {
  const auto g = models::build_model("efficientnet_b0", kImagenet);
  EXPECT_EQ(g->parameter_count(), 5'288'548);
  const StateDict sd = state_dict(*g);
  EXPECT_EQ(sd.shapes.size(), 360u);
  EXPECT_EQ(sd.counters, 49);
  EXPECT_EQ(sd.running_values, 42'016);
  // features.1.0: no expansion; squeeze to max(1, 32 / 4) = 8 channels.
  EXPECT_EQ(sd.shapes.at("features.1.0.block.0.0.weight"), (Shape{32, 1, 3, 3}));
  EXPECT_EQ(sd.shapes.at("features.1.0.block.1.fc1.weight"), (Shape{8, 32, 1, 1}));
  EXPECT_EQ(sd.shapes.at("features.1.0.block.1.fc1.bias"), (Shape{8}));
  EXPECT_EQ(sd.shapes.at("features.1.0.block.2.0.weight"), (Shape{16, 32, 1, 1}));
  // features.3.1: 40 -> 240 expanded, 5x5 depthwise, squeeze to 10.
  EXPECT_EQ(sd.shapes.at("features.3.1.block.1.0.weight"), (Shape{240, 1, 5, 5}));
  EXPECT_EQ(sd.shapes.at("features.3.1.block.2.fc2.weight"), (Shape{240, 10, 1, 1}));
  EXPECT_EQ(sd.shapes.at("features.8.0.weight"), (Shape{1280, 320, 1, 1}));
  EXPECT_EQ(sd.shapes.at("classifier.1.bias"), (Shape{1000}));
  EXPECT_EQ(output_of(*g, "features.8.2"), (Shape{1, 1280, 7, 7}));
}

TEST(MobileNets, CifarFormsKeepTheNamesAndStopAtFourPixels) {
  for (const char* name : {"mobilenet_v2", "efficientnet_b0"}) {
    const auto big = models::build_model(name, kImagenet);
    const auto small = models::build_model(name, kCifar);
    // Same entries, same shapes but the classifier's.
    const StateDict a = state_dict(*big), b = state_dict(*small);
    ASSERT_EQ(a.shapes.size(), b.shapes.size()) << name;
    for (const auto& [key, shape] : a.shapes) {
      ASSERT_TRUE(b.shapes.count(key)) << name << " " << key;
      if (key.rfind("classifier.1.", 0) != 0) {
        EXPECT_EQ(b.shapes.at(key), shape) << key;
      }
    }
    EXPECT_EQ(small->parameter_count(), big->parameter_count() - 990 * 1281) << name;
    EXPECT_EQ(output_of(*small, "features.0.2")[2], 32) << name;  // a stem of stride 1
    const std::string last = std::string(name) == "mobilenet_v2" ? "features.18.2" : "features.8.2";
    EXPECT_EQ(output_of(*small, last), (Shape{1, 1280, 4, 4})) << name;
  }
  EXPECT_EQ(output_of(*models::build_model("mobilenet_v2", kCifar), "features.3.conv.3"),
            (Shape{1, 24, 32, 32}));
  EXPECT_EQ(output_of(*models::build_model("efficientnet_b0", kCifar), "features.2.1.add"),
            (Shape{1, 24, 32, 32}));
}

TEST(MobileNets, DropPathRatesRiseLinearlyOverTheSixteenBlocks) {
  // torchvision: 0.2 * block / 16, on the blocks that add their input (the others have none).
  const auto g = models::build_model("efficientnet_b0", kCifar);
  const nn::GraphSummary s = g->summary();
  std::map<std::string, double> rates;
  for (const nn::LayerSummary& row : s.layers)
    if (row.type == "StochasticDepth") rates[row.name] = row.dropout;
  EXPECT_EQ(rates.size(), 9u);
  EXPECT_DOUBLE_EQ(rates.at("features.2.1.stochastic_depth"), 0.2f * 2 / 16);
  EXPECT_DOUBLE_EQ(rates.at("features.6.3.stochastic_depth"), 0.2f * 14 / 16);
  EXPECT_FALSE(rates.count("features.1.0.stochastic_depth"));
}

TEST(MobileNets, StartsAreTorchvisionsUnderEveryScheme) {
  for (const auto scheme : {init::InitScheme::PyTorchDefault, init::InitScheme::XavierUniform}) {
    for (const char* name : {"mobilenet_v2", "efficientnet_b0"}) {
      Context ctx;
      auto g = models::build_model(name, kImagenet);
      g->build(ctx, 1);
      g->initialize(ctx, scheme, test::test_seed());
      for (const nn::NamedTensor& p : g->named_parameters()) {
        const test::Moments m = test::moments(p.tensor);
        const Shape& s = p.tensor.shape();
        if (p.name == "classifier.1.weight") {
          if (std::string(name) == "mobilenet_v2") {
            EXPECT_NEAR(m.stddev, 0.01, 0.0003);  // N(0, 0.01^2), 1,280,000 draws
          } else {
            // U(-r, r), r = 1 / sqrt(1000): deviation r / sqrt(3), never beyond r.
            const double r = 1.0 / std::sqrt(1000.0);
            EXPECT_LE(m.max_abs, static_cast<double>(static_cast<float>(r)));
            EXPECT_NEAR(m.stddev, r / std::sqrt(3.0), 0.01 * r);
          }
        } else if (p.name == "classifier.1.bias" || p.name == "features.6.1.block.2.fc1.bias") {
          EXPECT_EQ(m.max_abs, 0.0) << name << " " << p.name;
        } else if (p.name == "features.18.0.weight" || p.name == "features.8.0.weight" ||
                   p.name == "features.6.1.block.1.0.weight") {
          // kaiming_normal_(mode="fan_out"): sqrt(2 / (out * k * k)); a depthwise weight's
          // fan_out is its out channels times k * k as well (torch counts [out, 1, k, k]).
          const double want = std::sqrt(2.0 / static_cast<double>(s[0] * s[2] * s[3]));
          EXPECT_NEAR(m.stddev, want, 0.05 * want) << name << " " << p.name;
        }
      }
    }
  }
}

TEST(MobileNets, TrainingStepIsTheSameOnOneAndTwoThreads) {
  for (const char* name : {"mobilenet_v2", "efficientnet_b0"}) {
    std::mt19937_64 gen(test::test_seed() + 21);
    SCOPED_TRACE(std::string(name) + ", seed " + std::to_string(test::test_seed()));
    Context ctx;
    auto g = models::build_model(name, kCifar);
    g->build(ctx, 2);
    g->initialize(ctx, init::InitScheme::PyTorchDefault, gen());
    const Tensor x = test::random_tensor(Shape{2, 3, 32, 32}, gen);
    const Tensor labels = test::random_labels(2, 10, gen);
    test::expect_same_step_on_one_and_two_threads(ctx, *g, x, labels, 5);
  }
}

}  // namespace
}  // namespace kestrel
