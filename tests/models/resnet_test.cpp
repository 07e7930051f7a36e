// The ResNets: parameter counts and state_dict names, shapes and dtypes against torchvision's
// (the counts and entries as torchvision 0.14 reports them: 11,689,512 for resnet18 and 122
// state_dict entries; He et al.'s ResNet-20 has 269,722), output shapes per stage, the
// initialisation's statistics (torchvision's: fan-out Kaiming normal convolutions), and the
// same bits on 1 and 2 threads. Numerical parity with PyTorch is bench/pytorch/parity.py
// (ctest parity.*).
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "engine/init/init.hpp"
#include "models/registry.hpp"
#include "tests/support/random.hpp"
#include "tests/support/thread_determinism.hpp"

namespace kestrel {
namespace {

using models::ModelInput;

const ModelInput kCifar{3, 32, 32, 10};
const ModelInput kImagenet{3, 224, 224, 1000};

struct Entry {
  std::string name;
  Shape shape;
  DType dtype;
};

std::vector<Entry> state_dict_entries(const nn::Graph& g) {
  std::vector<Entry> out;
  for (const nn::ParamInfo& p : g.parameter_infos()) out.push_back({p.name, p.shape, DType::F32});
  for (const nn::StateInfo& s : g.state_infos()) out.push_back({s.name, s.shape, s.dtype});
  return out;
}

const Entry* find(const std::vector<Entry>& entries, const std::string& name) {
  for (const Entry& e : entries)
    if (e.name == name) return &e;
  return nullptr;
}

TEST(Resnet, ParameterCountsAreTorchvisions) {
  EXPECT_EQ(models::build_model("resnet18", kImagenet)->parameter_count(), 11'689'512);
  // The CIFAR form: a 3x3 stem (64*3*9 instead of 64*3*49) and fc to 10 classes.
  EXPECT_EQ(models::build_model("resnet18", kCifar)->parameter_count(),
            11'689'512 - 64 * 3 * (49 - 9) - 512 * 990 - 990);  // 11,173,962
  // ResNet-20: stem 432 + 32, stage 1 6 * 2,304 + 6 * 32, stage 2 4,608 + 5 * 9,216 + 6 * 64,
  // stage 3 18,432 + 5 * 36,864 + 6 * 128, fc 650.
  EXPECT_EQ(models::build_model("resnet20", kCifar)->parameter_count(), 269'722);
}

TEST(Resnet, Resnet18StateDictIsTorchvisions) {
  const auto g = models::build_model("resnet18", kImagenet);
  const std::vector<Entry> sd = state_dict_entries(*g);
  // 62 parameters (20 convolutions, 20 batch norms x 2, fc x 2) and 60 buffers.
  EXPECT_EQ(g->parameter_infos().size(), 62u);
  EXPECT_EQ(g->state_infos().size(), 60u);
  const std::vector<std::pair<std::string, Shape>> expected{
      {"conv1.weight", {64, 3, 7, 7}},
      {"bn1.weight", {64}},
      {"bn1.running_var", {64}},
      {"layer1.0.conv1.weight", {64, 64, 3, 3}},
      {"layer1.1.bn2.running_mean", {64}},
      {"layer2.0.conv1.weight", {128, 64, 3, 3}},
      {"layer2.0.downsample.0.weight", {128, 64, 1, 1}},
      {"layer2.0.downsample.1.bias", {128}},
      {"layer3.0.downsample.1.running_var", {256}},
      {"layer4.0.downsample.0.weight", {512, 256, 1, 1}},
      {"layer4.1.conv2.weight", {512, 512, 3, 3}},
      {"fc.weight", {1000, 512}},
      {"fc.bias", {1000}}};
  for (const auto& [name, shape] : expected) {
    const Entry* e = find(sd, name);
    ASSERT_NE(e, nullptr) << name;
    EXPECT_EQ(e->shape, shape) << name;
    EXPECT_EQ(e->dtype, DType::F32) << name;
  }
  const Entry* count = find(sd, "layer3.1.bn1.num_batches_tracked");
  ASSERT_NE(count, nullptr);
  EXPECT_EQ(count->dtype, DType::I64);
  EXPECT_EQ(count->shape.ndim(), 0);
  // No downsample where torchvision has none, no bias on any convolution.
  EXPECT_EQ(find(sd, "layer1.0.downsample.0.weight"), nullptr);
  EXPECT_EQ(find(sd, "layer2.1.downsample.0.weight"), nullptr);
  EXPECT_EQ(find(sd, "conv1.bias"), nullptr);
  // Parameters in torchvision's order.
  EXPECT_EQ(g->parameter_infos().front().name, "conv1.weight");
  EXPECT_EQ(g->parameter_infos()[7].name, "layer1.0.bn2.weight");
  EXPECT_EQ(g->parameter_infos()[21].name, "layer2.0.downsample.0.weight");
  EXPECT_EQ(g->parameter_infos().back().name, "fc.bias");
}

TEST(Resnet, Resnet20StateDictAndShapes) {
  const auto g = models::build_model("resnet20", kCifar);
  const std::vector<Entry> sd = state_dict_entries(*g);
  EXPECT_EQ(sd.size(), 116u);  // what bench/pytorch/resnet_cifar.py's state_dict holds
  EXPECT_EQ(find(sd, "layer2.0.conv1.weight")->shape, (Shape{32, 16, 3, 3}));
  EXPECT_EQ(find(sd, "layer3.2.bn2.running_mean")->shape, (Shape{64}));
  EXPECT_EQ(find(sd, "fc.weight")->shape, (Shape{10, 64}));
  EXPECT_EQ(find(sd, "layer2.0.shortcut.weight"), nullptr);
  std::vector<std::pair<std::string, Shape>> outputs;
  for (int i = 0; i < g->size(); ++i)
    if (g->layer(i).name().find("relu2") != std::string::npos || g->layer(i).name() == "fc" ||
        g->layer(i).type() == std::string_view("ZeroPadShortcut"))
      outputs.emplace_back(g->layer(i).name(), g->output_shape(i));
  EXPECT_EQ(outputs,
            (std::vector<std::pair<std::string, Shape>>{{"layer1.0.relu2", {1, 16, 32, 32}},
                                                        {"layer1.1.relu2", {1, 16, 32, 32}},
                                                        {"layer1.2.relu2", {1, 16, 32, 32}},
                                                        {"layer2.0.shortcut", {1, 32, 16, 16}},
                                                        {"layer2.0.relu2", {1, 32, 16, 16}},
                                                        {"layer2.1.relu2", {1, 32, 16, 16}},
                                                        {"layer2.2.relu2", {1, 32, 16, 16}},
                                                        {"layer3.0.shortcut", {1, 64, 8, 8}},
                                                        {"layer3.0.relu2", {1, 64, 8, 8}},
                                                        {"layer3.1.relu2", {1, 64, 8, 8}},
                                                        {"layer3.2.relu2", {1, 64, 8, 8}},
                                                        {"fc", {1, 10}}}));
}

TEST(Resnet, Resnet18StemsByImageSize) {
  const auto big = models::build_model("resnet18", kImagenet);
  const auto small = models::build_model("resnet18", kCifar);
  EXPECT_EQ(big->layer(3).name(), "maxpool");
  EXPECT_EQ(big->output_shape(3), (Shape{1, 64, 56, 56}));
  EXPECT_EQ(small->layer(3).name(), "layer1.0.conv1");
  EXPECT_EQ(small->output_shape(0), (Shape{1, 64, 32, 32}));
  EXPECT_EQ(big->output_shape(big->size() - 3), (Shape{1, 512, 1, 1}));  // avgpool
}

// Sample standard deviation of a tensor's values.
double stddev(const Tensor& t) {
  const std::vector<float> v = t.to_vector();
  double sum = 0, sq = 0;
  for (float x : v) sum += x;
  const double mean = sum / static_cast<double>(v.size());
  for (float x : v) sq += (x - mean) * (x - mean);
  return std::sqrt(sq / static_cast<double>(v.size() - 1));
}

TEST(Resnet, InitialisationIsTorchvisionsUnderEveryScheme) {
  for (const auto scheme : {init::InitScheme::PyTorchDefault, init::InitScheme::XavierUniform}) {
    Context ctx;
    auto g = models::build_model("resnet18", kCifar);
    g->build(ctx, 1);
    g->initialize(ctx, scheme, test::test_seed());
    for (const nn::NamedTensor& p : g->named_parameters()) {
      const std::vector<float> v = p.tensor.to_vector();
      if (p.name == "layer4.1.conv2.weight" || p.name == "layer2.0.downsample.0.weight") {
        // kaiming_normal_(fan_out, relu): std = sqrt(2 / (out * k * k)), over >= 8,192 draws.
        const double want = std::sqrt(
            2.0 / static_cast<double>(p.tensor.dim(0) * p.tensor.dim(2) * p.tensor.dim(3)));
        EXPECT_NEAR(stddev(p.tensor), want, 0.05 * want) << p.name;
      } else if (p.name == "bn1.weight" || p.name == "layer3.1.bn2.bias") {
        const float want = p.name == "bn1.weight" ? 1.0f : 0.0f;
        for (float x : v) ASSERT_EQ(x, want) << p.name;
      }
    }
  }
}

TEST(Resnet, Resnet20StepIsTheSameOnOneAndTwoThreads) {
  std::mt19937_64 gen(test::test_seed() + 20);
  SCOPED_TRACE("seed " + std::to_string(test::test_seed()));
  Context ctx;
  auto g = models::build_model("resnet20", kCifar);
  g->build(ctx, 4);
  g->initialize(ctx, init::InitScheme::PyTorchDefault, gen());
  const Tensor x = test::random_tensor(Shape{4, 3, 32, 32}, gen);
  const Tensor labels = test::random_labels(4, 10, gen);
  test::expect_same_step_on_one_and_two_threads(ctx, *g, x, labels, 0);
}

}  // namespace
}  // namespace kestrel
