// The models: parameter counts, every layer's output shape on each data set a model takes,
// parameter names, shapes and order against the PyTorch modules' state_dict keys (written out
// by hand), multiply-adds, the summary text, errors, and training: LeNet-5 memorises 32 random
// images, AlexNet, GoogLeNet and DenseNet-121 run a whole step. The GoogLeNet and DenseNet
// numbers are torchvision 0.14's (bench/pytorch/parity.py checks every name against it).
#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <utility>
#include <vector>

#include "engine/nn/summary.hpp"
#include "engine/ops/cross_entropy.hpp"
#include "engine/optim/adam.hpp"
#include "models/datasets.hpp"
#include "models/registry.hpp"
#include "tests/support/random.hpp"

namespace kestrel {
namespace {

using models::ModelInput;

const ModelInput kMnist{1, 28, 28, 10};
const ModelInput kCifar{3, 32, 32, 10};
const ModelInput kImagenet{3, 224, 224, 1000};

using NamedShapes = std::vector<std::pair<std::string, Shape>>;

NamedShapes layer_shapes(const nn::Graph& g) {
  NamedShapes out;
  for (int i = 0; i < g.size(); ++i) out.emplace_back(g.layer(i).name(), g.output_shape(i));
  return out;
}

NamedShapes parameter_shapes(const nn::Graph& g) {
  NamedShapes out;
  for (const nn::ParamInfo& p : g.parameter_infos()) out.emplace_back(p.name, p.shape);
  return out;
}

// The shape of the parameter or buffer `name`, or {} with a failure when there is none.
Shape tensor_shape(const nn::Graph& g, const std::string& name) {
  for (const nn::ParamInfo& p : g.parameter_infos())
    if (p.name == name) return p.shape;
  for (const nn::StateInfo& s : g.state_infos())
    if (s.name == name) return s.shape;
  ADD_FAILURE() << "no tensor " << name;
  return {};
}

// The output shape of the layer `name`, or {} with a failure when there is none.
Shape layer_shape(const nn::Graph& g, const std::string& name) {
  for (int i = 0; i < g.size(); ++i)
    if (g.layer(i).name() == name) return g.output_shape(i);
  ADD_FAILURE() << "no layer " << name;
  return {};
}

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "no error";
}

TEST(Models, ParameterCounts) {
  // lenet5: conv1 6*(C*25)+6, conv2 16*150+16 = 2,416, fc1 120*F+120, fc2 84*120+84 = 10,164,
  // fc3 10*84+10 = 850, with F = 16*4*4 on 28x28 and 16*5*5 on 32x32.
  EXPECT_EQ(models::build_model("lenet5", kMnist)->parameter_count(), 44'426);
  EXPECT_EQ(models::build_model("lenet5", kCifar)->parameter_count(),
            456 + 2'416 + 48'120 + 10'164 + 850);
  // lenet5-classic pads MNIST to 32x32, so fc1 takes 400 inputs on both data sets.
  EXPECT_EQ(models::build_model("lenet5-classic", kMnist)->parameter_count(),
            156 + 2'416 + 48'120 + 10'164 + 850);  // 61,706
  EXPECT_EQ(models::build_model("lenet5-classic", kCifar)->parameter_count(), 62'006);
  EXPECT_EQ(models::build_model("alexnet", kCifar)->parameter_count(), 57'023'306);
  // One input channel instead of three: 64 * 2 * 9 fewer weights.
  EXPECT_EQ(models::build_model("alexnet", kMnist)->parameter_count(), 57'023'306 - 64 * 2 * 9);
  // alexnet-imagenet: 96*3*121+96, 256*96*25+256, 384*256*9+384, 384*384*9+384,
  // 256*384*9+256, 4096*9216+4096, 4096*4096+4096, 1000*4096+1000.
  EXPECT_EQ(models::build_model("alexnet-imagenet", kImagenet)->parameter_count(),
            34'944 + 614'656 + 885'120 + 1'327'488 + 884'992 + 37'752'832 + 16'781'312 +
                4'097'000);  // 62,378,344
  // torchvision's googlenet(aux_logits=False) and densenet121; their CIFAR forms have a 3x3
  // stem (64 * 3 * (49 - 9) fewer weights) and a 10-class head (1024 * 990 + 990 fewer).
  EXPECT_EQ(models::build_model("googlenet", kImagenet)->parameter_count(), 6'624'904);
  EXPECT_EQ(models::build_model("googlenet", kCifar)->parameter_count(),
            6'624'904 - 64 * 3 * 40 - 1024 * 990 - 990);  // 5,602,474
  EXPECT_EQ(models::build_model("densenet121", kImagenet)->parameter_count(), 7'978'856);
  EXPECT_EQ(models::build_model("densenet121", kCifar)->parameter_count(),
            7'978'856 - 64 * 3 * 40 - 1024 * 990 - 990);  // 6,956,426
}

TEST(Models, Lenet5ShapesOnMnistAndCifar10) {
  EXPECT_EQ(layer_shapes(*models::build_model("lenet5", kMnist)),
            (NamedShapes{{"conv1", {1, 6, 24, 24}},
                         {"relu1", {1, 6, 24, 24}},
                         {"pool1", {1, 6, 12, 12}},
                         {"conv2", {1, 16, 8, 8}},
                         {"relu2", {1, 16, 8, 8}},
                         {"pool2", {1, 16, 4, 4}},
                         {"flatten", {1, 256}},
                         {"fc1", {1, 120}},
                         {"relu3", {1, 120}},
                         {"fc2", {1, 84}},
                         {"relu4", {1, 84}},
                         {"fc3", {1, 10}}}));
  EXPECT_EQ(layer_shapes(*models::build_model("lenet5", kCifar)),
            (NamedShapes{{"conv1", {1, 6, 28, 28}},
                         {"relu1", {1, 6, 28, 28}},
                         {"pool1", {1, 6, 14, 14}},
                         {"conv2", {1, 16, 10, 10}},
                         {"relu2", {1, 16, 10, 10}},
                         {"pool2", {1, 16, 5, 5}},
                         {"flatten", {1, 400}},
                         {"fc1", {1, 120}},
                         {"relu3", {1, 120}},
                         {"fc2", {1, 84}},
                         {"relu4", {1, 84}},
                         {"fc3", {1, 10}}}));
}

TEST(Models, Lenet5ClassicShapesOnMnistAndCifar10) {
  const NamedShapes expected{
      {"conv1", {1, 6, 28, 28}},  {"tanh1", {1, 6, 28, 28}},  {"pool1", {1, 6, 14, 14}},
      {"conv2", {1, 16, 10, 10}}, {"tanh2", {1, 16, 10, 10}}, {"pool2", {1, 16, 5, 5}},
      {"flatten", {1, 400}},      {"fc1", {1, 120}},          {"tanh3", {1, 120}},
      {"fc2", {1, 84}},           {"tanh4", {1, 84}},         {"fc3", {1, 10}}};
  EXPECT_EQ(layer_shapes(*models::build_model("lenet5-classic", kMnist)), expected);
  EXPECT_EQ(layer_shapes(*models::build_model("lenet5-classic", kCifar)), expected);
}

NamedShapes alexnet_classifier(int64_t classes) {
  return {{"avgpool", {1, 256, 6, 6}}, {"flatten", {1, 9216}},      {"classifier.0", {1, 9216}},
          {"classifier.1", {1, 4096}}, {"classifier.2", {1, 4096}}, {"classifier.3", {1, 4096}},
          {"classifier.4", {1, 4096}}, {"classifier.5", {1, 4096}}, {"classifier.6", {1, classes}}};
}

NamedShapes concat(NamedShapes a, const NamedShapes& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

TEST(Models, AlexnetShapesOnCifar10AndMnist) {
  EXPECT_EQ(layer_shapes(*models::build_model("alexnet", kCifar)),
            concat({{"features.0", {1, 64, 32, 32}},
                    {"features.1", {1, 64, 32, 32}},
                    {"features.2", {1, 64, 15, 15}},
                    {"features.3", {1, 192, 15, 15}},
                    {"features.4", {1, 192, 15, 15}},
                    {"features.5", {1, 192, 7, 7}},
                    {"features.6", {1, 384, 7, 7}},
                    {"features.7", {1, 384, 7, 7}},
                    {"features.8", {1, 256, 7, 7}},
                    {"features.9", {1, 256, 7, 7}},
                    {"features.10", {1, 256, 7, 7}},
                    {"features.11", {1, 256, 7, 7}},
                    {"features.12", {1, 256, 3, 3}}},
                   alexnet_classifier(10)));
  EXPECT_EQ(layer_shapes(*models::build_model("alexnet", kMnist)),
            concat({{"features.0", {1, 64, 28, 28}},
                    {"features.1", {1, 64, 28, 28}},
                    {"features.2", {1, 64, 13, 13}},
                    {"features.3", {1, 192, 13, 13}},
                    {"features.4", {1, 192, 13, 13}},
                    {"features.5", {1, 192, 6, 6}},
                    {"features.6", {1, 384, 6, 6}},
                    {"features.7", {1, 384, 6, 6}},
                    {"features.8", {1, 256, 6, 6}},
                    {"features.9", {1, 256, 6, 6}},
                    {"features.10", {1, 256, 6, 6}},
                    {"features.11", {1, 256, 6, 6}},
                    {"features.12", {1, 256, 2, 2}}},
                   alexnet_classifier(10)));
}

TEST(Models, AlexnetImagenetShapes) {
  EXPECT_EQ(layer_shapes(*models::build_model("alexnet-imagenet", kImagenet)),
            concat({{"features.0", {1, 96, 55, 55}},
                    {"features.1", {1, 96, 55, 55}},
                    {"features.2", {1, 96, 55, 55}},
                    {"features.3", {1, 96, 27, 27}},
                    {"features.4", {1, 256, 27, 27}},
                    {"features.5", {1, 256, 27, 27}},
                    {"features.6", {1, 256, 27, 27}},
                    {"features.7", {1, 256, 13, 13}},
                    {"features.8", {1, 384, 13, 13}},
                    {"features.9", {1, 384, 13, 13}},
                    {"features.10", {1, 384, 13, 13}},
                    {"features.11", {1, 384, 13, 13}},
                    {"features.12", {1, 256, 13, 13}},
                    {"features.13", {1, 256, 13, 13}},
                    {"features.14", {1, 256, 6, 6}}},
                   alexnet_classifier(1000)));
  EXPECT_EQ(models::build_model("alexnet-imagenet", kImagenet)->layer(2).type(),
            "LocalResponseNorm");
}

TEST(Models, ParameterNamesShapesAndOrderAreThoseOfThePyTorchStateDict) {
  EXPECT_EQ(parameter_shapes(*models::build_model("lenet5", kMnist)),
            (NamedShapes{{"conv1.weight", {6, 1, 5, 5}},
                         {"conv1.bias", {6}},
                         {"conv2.weight", {16, 6, 5, 5}},
                         {"conv2.bias", {16}},
                         {"fc1.weight", {120, 256}},
                         {"fc1.bias", {120}},
                         {"fc2.weight", {84, 120}},
                         {"fc2.bias", {84}},
                         {"fc3.weight", {10, 84}},
                         {"fc3.bias", {10}}}));
  EXPECT_EQ(parameter_shapes(*models::build_model("lenet5-classic", kCifar)),
            (NamedShapes{{"conv1.weight", {6, 3, 5, 5}},
                         {"conv1.bias", {6}},
                         {"conv2.weight", {16, 6, 5, 5}},
                         {"conv2.bias", {16}},
                         {"fc1.weight", {120, 400}},
                         {"fc1.bias", {120}},
                         {"fc2.weight", {84, 120}},
                         {"fc2.bias", {84}},
                         {"fc3.weight", {10, 84}},
                         {"fc3.bias", {10}}}));
  EXPECT_EQ(parameter_shapes(*models::build_model("alexnet", kCifar)),
            (NamedShapes{{"features.0.weight", {64, 3, 3, 3}},
                         {"features.0.bias", {64}},
                         {"features.3.weight", {192, 64, 5, 5}},
                         {"features.3.bias", {192}},
                         {"features.6.weight", {384, 192, 3, 3}},
                         {"features.6.bias", {384}},
                         {"features.8.weight", {256, 384, 3, 3}},
                         {"features.8.bias", {256}},
                         {"features.10.weight", {256, 256, 3, 3}},
                         {"features.10.bias", {256}},
                         {"classifier.1.weight", {4096, 9216}},
                         {"classifier.1.bias", {4096}},
                         {"classifier.4.weight", {4096, 4096}},
                         {"classifier.4.bias", {4096}},
                         {"classifier.6.weight", {10, 4096}},
                         {"classifier.6.bias", {10}}}));
  EXPECT_EQ(parameter_shapes(*models::build_model("alexnet-imagenet", kImagenet)),
            (NamedShapes{{"features.0.weight", {96, 3, 11, 11}},
                         {"features.0.bias", {96}},
                         {"features.4.weight", {256, 96, 5, 5}},
                         {"features.4.bias", {256}},
                         {"features.8.weight", {384, 256, 3, 3}},
                         {"features.8.bias", {384}},
                         {"features.10.weight", {384, 384, 3, 3}},
                         {"features.10.bias", {384}},
                         {"features.12.weight", {256, 384, 3, 3}},
                         {"features.12.bias", {256}},
                         {"classifier.1.weight", {4096, 9216}},
                         {"classifier.1.bias", {4096}},
                         {"classifier.4.weight", {4096, 4096}},
                         {"classifier.4.bias", {4096}},
                         {"classifier.6.weight", {1000, 4096}},
                         {"classifier.6.bias", {1000}}}));
}

// GoogLeNet: BasicConv2d = conv, bn (eps 0.001), relu; four Inception branches concatenated;
// torchvision's "5x5" branch is a 3x3 convolution; 57 batch norms, so 171 buffers.
TEST(Models, GooglenetNamesShapesAndBuffers) {
  for (const ModelInput& in : {kImagenet, kCifar}) {
    SCOPED_TRACE(in.height);
    auto g = models::build_model("googlenet", in);
    const bool cifar = in.height == 32;
    EXPECT_EQ(g->parameter_infos().size(), 173u);
    EXPECT_EQ(g->state_infos().size(), 171u);
    const NamedShapes params = parameter_shapes(*g);
    EXPECT_EQ(params.front(),
              (std::pair<std::string, Shape>{"conv1.conv.weight", {64, 3, cifar ? 3 : 7,
                                                                    cifar ? 3 : 7}}));
    EXPECT_EQ(params[1].first, "conv1.bn.weight");
    EXPECT_EQ(params.back(), (std::pair<std::string, Shape>{"fc.bias", {in.classes}}));
    EXPECT_EQ(tensor_shape(*g, "conv3.conv.weight"), (Shape{192, 64, 3, 3}));
    EXPECT_EQ(tensor_shape(*g, "inception3a.branch2.1.conv.weight"), (Shape{128, 96, 3, 3}));
    EXPECT_EQ(tensor_shape(*g, "inception3a.branch3.1.conv.weight"), (Shape{32, 16, 3, 3}));
    EXPECT_EQ(tensor_shape(*g, "inception4e.branch4.1.conv.weight"), (Shape{128, 528, 1, 1}));
    EXPECT_EQ(tensor_shape(*g, "inception5b.branch1.bn.running_var"), (Shape{384}));
    EXPECT_EQ(tensor_shape(*g, "fc.weight"), (Shape{in.classes, 1024}));
    EXPECT_EQ(g->state_infos().front().name, "conv1.bn.running_mean");
    EXPECT_EQ(g->state_infos()[2].name, "conv1.bn.num_batches_tracked");
    EXPECT_EQ(g->state_infos()[2].dtype, DType::I64);
    EXPECT_EQ(layer_shape(*g, "inception3b.cat"), (Shape{1, 480, cifar ? 32 : 28, cifar ? 32 : 28}));
    EXPECT_EQ(layer_shape(*g, "maxpool3"), (Shape{1, 480, cifar ? 16 : 14, cifar ? 16 : 14}));
    EXPECT_EQ(layer_shape(*g, "maxpool4"), (Shape{1, 832, cifar ? 8 : 7, cifar ? 8 : 7}));
    EXPECT_EQ(layer_shape(*g, "inception5b.cat"), (Shape{1, 1024, cifar ? 8 : 7, cifar ? 8 : 7}));
    EXPECT_EQ(layer_shape(*g, "fc"), (Shape{1, in.classes}));
  }
  // The ImageNet stem (ceil_mode pools: 112 -> 56 -> 28), absent from the CIFAR form.
  auto g = models::build_model("googlenet", kImagenet);
  EXPECT_EQ(layer_shape(*g, "maxpool1"), (Shape{1, 64, 56, 56}));
  EXPECT_EQ(layer_shape(*g, "maxpool2"), (Shape{1, 192, 28, 28}));
  for (const auto& [name, shape] : layer_shapes(*models::build_model("googlenet", kCifar)))
    EXPECT_TRUE(name != "maxpool1" && name != "maxpool2") << name;
}

// DenseNet-121: blocks of 6, 12, 24, 16 dense layers (growth 32, bottleneck 128), transitions
// halving channels and size; 121 batch norms, so 363 buffers.
TEST(Models, Densenet121NamesShapesAndBuffers) {
  for (const ModelInput& in : {kImagenet, kCifar}) {
    SCOPED_TRACE(in.height);
    auto g = models::build_model("densenet121", in);
    const bool cifar = in.height == 32;
    EXPECT_EQ(g->parameter_infos().size(), 364u);
    EXPECT_EQ(g->state_infos().size(), 363u);
    const NamedShapes params = parameter_shapes(*g);
    EXPECT_EQ(params.front(), (std::pair<std::string, Shape>{
                                  "features.conv0.weight", {64, 3, cifar ? 3 : 7, cifar ? 3 : 7}}));
    EXPECT_EQ(params[1].first, "features.norm0.weight");
    EXPECT_EQ(params[3].first, "features.denseblock1.denselayer1.norm1.weight");
    EXPECT_EQ(params.back(), (std::pair<std::string, Shape>{"classifier.bias", {in.classes}}));
    EXPECT_EQ(tensor_shape(*g, "features.denseblock1.denselayer1.conv1.weight"),
              (Shape{128, 64, 1, 1}));
    EXPECT_EQ(tensor_shape(*g, "features.denseblock1.denselayer1.conv2.weight"),
              (Shape{32, 128, 3, 3}));
    EXPECT_EQ(tensor_shape(*g, "features.denseblock1.denselayer6.norm1.weight"), (Shape{224}));
    EXPECT_EQ(tensor_shape(*g, "features.transition1.conv.weight"), (Shape{128, 256, 1, 1}));
    EXPECT_EQ(tensor_shape(*g, "features.denseblock3.denselayer24.conv1.weight"),
              (Shape{128, 992, 1, 1}));
    EXPECT_EQ(tensor_shape(*g, "features.transition3.conv.weight"), (Shape{512, 1024, 1, 1}));
    EXPECT_EQ(tensor_shape(*g, "features.denseblock4.denselayer16.norm1.running_mean"),
              (Shape{992}));
    EXPECT_EQ(tensor_shape(*g, "features.norm5.weight"), (Shape{1024}));
    EXPECT_EQ(tensor_shape(*g, "classifier.weight"), (Shape{in.classes, 1024}));
    EXPECT_EQ(g->state_infos().back().name, "features.norm5.num_batches_tracked");
    EXPECT_EQ(g->state_infos().back().dtype, DType::I64);
    const int64_t s = cifar ? 32 : 56;
    EXPECT_EQ(layer_shape(*g, "features.denseblock1.denselayer2.cat"), (Shape{1, 96, s, s}));
    EXPECT_EQ(layer_shape(*g, "features.denseblock1.cat"), (Shape{1, 256, s, s}));
    EXPECT_EQ(layer_shape(*g, "features.transition1.pool"), (Shape{1, 128, s / 2, s / 2}));
    EXPECT_EQ(layer_shape(*g, "features.transition3.pool"), (Shape{1, 512, s / 8, s / 8}));
    EXPECT_EQ(layer_shape(*g, "features.norm5"), (Shape{1, 1024, s / 8, s / 8}));
    EXPECT_EQ(layer_shape(*g, "flatten"), (Shape{1, 1024}));
  }
  EXPECT_EQ(layer_shape(*models::build_model("densenet121", kImagenet), "features.pool0"),
            (Shape{1, 64, 56, 56}));
  for (const auto& [name, shape] : layer_shapes(*models::build_model("densenet121", kCifar)))
    EXPECT_NE(name, "features.pool0");
}

// Sum over the convolutions of K*OH*OW*C*R*S and over the linear layers of in*out.
TEST(Models, MultiplyAdds) {
  EXPECT_EQ(models::build_model("lenet5", kMnist)->summary().multiply_adds,
            6 * 24 * 24 * 25 + 16 * 8 * 8 * 150 + 256 * 120 + 120 * 84 + 84 * 10);  // 281,640
  EXPECT_EQ(models::build_model("alexnet", kCifar)->summary().multiply_adds,
            int64_t{64} * 32 * 32 * 27 + int64_t{192} * 15 * 15 * 1600 +
                int64_t{384} * 7 * 7 * 1728 + int64_t{256} * 7 * 7 * 3456 +
                int64_t{256} * 7 * 7 * 2304 + int64_t{9216} * 4096 + int64_t{4096} * 4096 +
                int64_t{4096} * 10);  // 230,223,872
  EXPECT_EQ(models::build_model("alexnet-imagenet", kImagenet)->summary().multiply_adds,
            int64_t{96} * 55 * 55 * 363 + int64_t{256} * 27 * 27 * 2400 +
                int64_t{384} * 13 * 13 * 2304 + int64_t{384} * 13 * 13 * 3456 +
                int64_t{256} * 13 * 13 * 3456 + int64_t{9216} * 4096 + int64_t{4096} * 4096 +
                int64_t{4096} * 1000);  // 1,135,256,096
  // Summed over torchvision's convolutions and linear layers by forward hooks.
  EXPECT_EQ(models::build_model("googlenet", kImagenet)->summary().multiply_adds, 1'498'376'192);
  EXPECT_EQ(models::build_model("googlenet", kCifar)->summary().multiply_adds, 1'451'042'816);
  EXPECT_EQ(models::build_model("densenet121", kImagenet)->summary().multiply_adds,
            2'834'161'664);
  EXPECT_EQ(models::build_model("densenet121", kCifar)->summary().multiply_adds, 888'350'720);
  // Multiply-adds scale with the batch.
  auto g = models::build_model("lenet5", kMnist);
  g->plan(kMnist.shape(), 64, 10);
  EXPECT_EQ(g->summary().multiply_adds, 64 * 281'640);
}

// The cells of the table row that starts with `layer`, split at runs of two or more spaces.
std::vector<std::string> row_cells(const std::string& text, const std::string& layer) {
  const size_t start = text.find("\n" + layer + " ");
  if (start == std::string::npos) return {};
  const std::string line = text.substr(start + 1, text.find('\n', start + 1) - start - 1);
  std::vector<std::string> cells;
  size_t i = 0;
  while (i < line.size()) {
    const size_t gap = line.find("  ", i);
    cells.push_back(line.substr(i, gap == std::string::npos ? std::string::npos : gap - i));
    if (gap == std::string::npos) break;
    i = line.find_first_not_of(' ', gap);
  }
  return cells;
}

using Cells = std::vector<std::string>;

TEST(Models, SummaryText) {
  const std::string lenet =
      nn::format_summary(models::build_model("lenet5", kMnist)->summary(), "lenet5 on mnist");
  EXPECT_TRUE(lenet.starts_with("lenet5 on mnist\n")) << lenet;
  EXPECT_EQ(row_cells(lenet, "Layer"),
            (Cells{"Layer (type)", "Output Shape", "Param #", "Mult-Adds", "Activations"}));
  // 6*24*24 floats of output; the pool keeps its output and an i32 argmax of the same size.
  EXPECT_EQ(row_cells(lenet, "conv1"),
            (Cells{"conv1 (Conv2d)", "[1, 6, 24, 24]", "156", "86,400", "13.8 KB"}));
  EXPECT_EQ(row_cells(lenet, "relu1"),
            (Cells{"relu1 (ReLU)", "[1, 6, 24, 24]", "--", "--", "in place"}));
  EXPECT_EQ(row_cells(lenet, "pool1"),
            (Cells{"pool1 (MaxPool2d)", "[1, 6, 12, 12]", "--", "--", "6.9 KB"}));
  EXPECT_EQ(row_cells(lenet, "flatten"),
            (Cells{"flatten (Flatten)", "[1, 256]", "--", "--", "view"}));
  EXPECT_EQ(row_cells(lenet, "fc1"),
            (Cells{"fc1 (Linear)", "[1, 120]", "30,840", "30,720", "480 B"}));
  EXPECT_EQ(row_cells(lenet, "relu3"), (Cells{"relu3 (ReLU)", "[1, 120]", "--", "--", "fused"}));
  EXPECT_EQ(row_cells(lenet, "fc3"), (Cells{"fc3 (Linear)", "[1, 10]", "850", "840", "40 B"}));
  for (const char* expected :
       {"\nTotal params: 44,426\n", "\nTrainable params: 44,426\n", "\nNon-trainable params: 0\n",
        "\nTotal mult-adds (M): 0.28\n", "\nParams size (MB): 0.18\n"}) {
    EXPECT_NE(lenet.find(expected), std::string::npos) << "missing: " << expected << "\n" << lenet;
  }

  const std::string alexnet =
      nn::format_summary(models::build_model("alexnet", kCifar)->summary(), "alexnet");
  EXPECT_EQ(row_cells(alexnet, "features.3"), (Cells{"features.3 (Conv2d)", "[1, 192, 15, 15]",
                                                     "307,392", "69,120,000", "172.8 KB"}));
  EXPECT_EQ(row_cells(alexnet, "classifier.1"),
            (Cells{"classifier.1 (Linear)", "[1, 4096]", "37,752,832", "37,748,736", "16.4 KB"}));
  EXPECT_EQ(row_cells(alexnet, "classifier.0"),
            (Cells{"classifier.0 (Dropout)", "[1, 9216]", "--", "--", "in place"}));
  for (const char* expected : {"\nTotal params: 57,023,306\n", "\nTotal mult-adds (M): 230.22\n",
                               "\nParams size (MB): 228.09\n"}) {
    EXPECT_NE(alexnet.find(expected), std::string::npos) << "missing: " << expected << "\n"
                                                         << alexnet;
  }

  const std::string imagenet = nn::format_summary(
      models::build_model("alexnet-imagenet", kImagenet)->summary(), "alexnet-imagenet");
  EXPECT_NE(imagenet.find("\nTotal params: 62,378,344\n"), std::string::npos) << imagenet;
  EXPECT_NE(imagenet.find("\nTotal mult-adds (G): 1.14\n"), std::string::npos) << imagenet;
}

TEST(Models, ThousandsSeparators) {
  EXPECT_EQ(nn::with_thousands(0), "0");
  EXPECT_EQ(nn::with_thousands(999), "999");
  EXPECT_EQ(nn::with_thousands(1000), "1,000");
  EXPECT_EQ(nn::with_thousands(44426), "44,426");
  EXPECT_EQ(nn::with_thousands(57023306), "57,023,306");
  EXPECT_EQ(nn::with_thousands(-1234567), "-1,234,567");
}

TEST(Models, Errors) {
  EXPECT_NE(error_of([] { models::build_model("lenet6", kMnist); })
                .find("unknown model 'lenet6' (known: lenet5, lenet5-classic, alexnet, "
                      "alexnet-imagenet, resnet18, resnet20, googlenet, densenet121, "
                      "mobilenet_v2, efficientnet_b0, vit, airbench94, airbench94_muon)"),
            std::string::npos);
  // The original AlexNet shrinks 32x32 images to nothing before its last pooling.
  const std::string too_small = error_of([] { models::build_model("alexnet-imagenet", kCifar); });
  EXPECT_NE(too_small.find("model alexnet-imagenet does not fit 3x32x32 images: layer features.14 "
                           "(MaxPool2d) on input [1, 256, 1, 1]"),
            std::string::npos)
      << too_small;
  EXPECT_NE(error_of([] {
              models::dataset_input("svhn");
            }).find("unknown data set 'svhn' (known: mnist, fashion-mnist, cifar10, imagenet)"),
            std::string::npos);
  EXPECT_NE(error_of([] { models::default_dataset("resnet"); }).find("unknown model 'resnet'"),
            std::string::npos);
}

TEST(Models, DatasetsAndDefaults) {
  const ModelInput mnist = models::dataset_input("mnist");
  EXPECT_EQ(mnist.shape(), (Shape{1, 28, 28}));
  EXPECT_EQ(mnist.classes, 10);
  EXPECT_EQ(models::dataset_input("fashion-mnist").shape(), (Shape{1, 28, 28}));
  EXPECT_EQ(models::dataset_input("cifar10").shape(), (Shape{3, 32, 32}));
  EXPECT_EQ(models::dataset_input("imagenet").classes, 1000);
  EXPECT_EQ(models::default_dataset("lenet5"), "mnist");
  EXPECT_EQ(models::default_dataset("lenet5-classic"), "mnist");
  EXPECT_EQ(models::default_dataset("alexnet"), "cifar10");
  EXPECT_EQ(models::default_dataset("alexnet-imagenet"), "imagenet");
  EXPECT_EQ(models::default_dataset("resnet18"), "cifar10");
  EXPECT_EQ(models::default_dataset("resnet20"), "cifar10");
  EXPECT_EQ(models::default_dataset("vit"), "cifar10");
  EXPECT_EQ(models::default_dataset("googlenet"), "cifar10");
  EXPECT_EQ(models::default_dataset("densenet121"), "cifar10");
  for (const std::string& name : models::model_names()) {
    EXPECT_NO_THROW(models::build_model(name, models::dataset_input(models::default_dataset(name))))
        << name;
  }
}

// LeNet-5 memorises 32 random images with random labels: the whole training loop (forward,
// cross-entropy, backward, Adam on the flat buffers) has to work for the loss to reach 0.01.
TEST(Models, Lenet5OverfitsThirtyTwoRandomImages) {
  std::mt19937_64 gen(test::test_seed());
  Context ctx;
  auto g = models::build_model("lenet5", kMnist);
  g->build(ctx, 32);
  g->initialize(ctx, init::InitScheme::PyTorchDefault, gen());
  const Tensor x = test::random_tensor(Shape{32, 1, 28, 28}, gen, 0.0f, 1.0f);
  const Tensor labels = test::random_labels(32, 10, gen);
  optim::Adam adam(optim::AdamOptions{.lr = 3e-3f});
  float first = 0.0f, loss = 0.0f;
  int step = 0;
  for (; step < 200 && !(loss < 0.01f && step > 0); ++step) {
    Tensor logits = g->forward(ctx, x, true, step);
    loss = ops::cross_entropy_forward_backward(ctx, logits, labels, &logits);
    if (step == 0) first = loss;
    g->backward(ctx, logits);
    adam.step(ctx, g->parameters(), g->gradients());
  }
  EXPECT_GT(first, 1.5f);  // about log(10) at the start
  EXPECT_LT(loss, 0.01f) << "after " << step << " steps";
  // And it predicts the memorised labels.
  const Tensor logits = g->forward(ctx, x, false, 0);
  const float eval_loss = ops::cross_entropy_forward_backward(ctx, logits, labels, nullptr);
  EXPECT_LT(eval_loss, 0.02f);
}

// AlexNet (CIFAR-10 variant) runs a whole step at batch 2: finite logits, and every parameter
// tensor gets a finite, non-zero gradient (a layer left out of the chain would have none).
TEST(Models, AlexnetStepReachesEveryParameter) {
  std::mt19937_64 gen(test::test_seed() + 1);
  Context ctx;
  auto g = models::build_model("alexnet", kCifar);
  g->build(ctx, 2);
  g->initialize(ctx, init::InitScheme::PyTorchDefault, 7);
  const Tensor x = test::random_tensor(Shape{2, 3, 32, 32}, gen);
  const Tensor labels = test::random_labels(2, 10, gen);
  Tensor logits = g->forward(ctx, x, true, 0);
  ASSERT_EQ(logits.shape(), (Shape{2, 10}));
  const float loss = ops::cross_entropy_forward_backward(ctx, logits, labels, &logits);
  EXPECT_TRUE(std::isfinite(loss));
  g->backward(ctx, logits);
  for (const nn::NamedTensor& grad : g->named_gradients()) {
    double sum_squares = 0.0;
    for (float v : grad.tensor.to_vector()) sum_squares += double{v} * v;
    EXPECT_TRUE(std::isfinite(sum_squares)) << grad.name;
    EXPECT_GT(sum_squares, 0.0) << grad.name;
  }
}

// GoogLeNet and DenseNet-121 (CIFAR forms, on 16x16 images to keep it short) run a whole step
// at batch 2: finite logits and loss, and every parameter gets a finite, non-zero gradient (a
// branch or dense connection left out of the graph would leave some without).
TEST(Models, GooglenetAndDensenetStepsReachEveryParameter) {
  for (const char* name : {"googlenet", "densenet121"}) {
    SCOPED_TRACE(name);
    const uint64_t seed = test::test_seed();
    SCOPED_TRACE(seed);
    std::mt19937_64 gen(seed);
    const ModelInput in{3, 16, 16, 10};
    Context ctx;
    auto g = models::build_model(name, in);
    g->build(ctx, 2);
    g->initialize(ctx, init::InitScheme::PyTorchDefault, gen());
    const Tensor x = test::random_tensor(Shape{2, 3, 16, 16}, gen);
    const Tensor labels = test::random_labels(2, 10, gen);
    Tensor logits = g->forward(ctx, x, true, 0);
    ASSERT_EQ(logits.shape(), (Shape{2, 10}));
    const float loss = ops::cross_entropy_forward_backward(ctx, logits, labels, &logits);
    EXPECT_TRUE(std::isfinite(loss));
    g->backward(ctx, logits);
    for (const nn::NamedTensor& grad : g->named_gradients()) {
      double sum_squares = 0.0;
      for (float v : grad.tensor.to_vector()) sum_squares += double{v} * v;
      EXPECT_TRUE(std::isfinite(sum_squares)) << grad.name;
      EXPECT_GT(sum_squares, 0.0) << grad.name;
    }
  }
}

}  // namespace
}  // namespace kestrel
