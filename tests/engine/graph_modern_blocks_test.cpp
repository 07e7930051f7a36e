// The layers of the modern CNN blocks in whole graphs: a squeeze-and-excitation block (global
// average pool, 1x1 conv, SiLU, 1x1 conv, Sigmoid, ScaleChannels: torchvision's
// SqueezeExcitation with SiLU as in EfficientNet) and a ResNet-20 downsampling block with the
// option A shortcut (ZeroPadShortcut, Add), with Hardswish, ReLU6 and both GELU forms between.
// Parameter gradients against central differences of a float64 reference, in-place decisions
// from each layer's backward_needs_input/output, 1 vs 2 threads, the init gains of the new
// activations, and their layer properties.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>

#include "engine/nn/activation.hpp"
#include "engine/nn/add.hpp"
#include "engine/nn/conv2d.hpp"
#include "engine/nn/flatten.hpp"
#include "engine/nn/graph.hpp"
#include "engine/nn/linear.hpp"
#include "engine/nn/pooling.hpp"
#include "engine/nn/scale_channels.hpp"
#include "engine/nn/zero_pad_shortcut.hpp"
#include "kernels/cpu/parallel.hpp"
#include "tests/engine/graph_test_support.hpp"
#include "tests/support/gradcheck.hpp"
#include "tests/support/random.hpp"

namespace kestrel {
namespace {

using nn::ValueId;
using test::Act;
using test::bitwise_equal;
using test::loss_and_gradients;
using test::packed_gradients;
using test::packed_offsets;
using test::packed_parameters;
using test::to_act;

constexpr int64_t kClasses = 4;
const Shape kInput{3, 6, 6};
using Params = std::map<std::string, size_t>;

// stem conv, SiLU, then SE: x * sigmoid(fc2(silu(fc1(avgpool(x))))), Hardswish, pool, fc.
std::unique_ptr<nn::Graph> se_graph() {
  auto g = std::make_unique<nn::Graph>();
  g->add<nn::Conv2d>("stem", 3, 8, 3, nn::Conv2dOptions{.padding = 1});
  const ValueId x = g->node<nn::SiLU>({g->last_value()}, "stem_act");
  g->node<nn::AdaptiveAvgPool2d>({x}, "se.avgpool", 1, 1);
  g->add<nn::Conv2d>("se.fc1", 8, 4, 1);
  g->add<nn::SiLU>("se.activation");
  g->add<nn::Conv2d>("se.fc2", 4, 8, 1);
  const ValueId s = g->node<nn::Sigmoid>({g->last_value()}, "se.scale_activation");
  g->node<nn::ScaleChannels>({x, s}, "se.scale");
  g->add<nn::Hardswish>("act");
  g->add<nn::AvgPool2d>("pool", 2);
  g->add<nn::Flatten>("flatten");
  g->add<nn::Linear>("fc", 72, kClasses);
  return g;
}

double se_loss(const std::vector<double>& theta, const Params& at, const Act& images,
               const std::vector<int32_t>& labels) {
  const auto p = [&](const char* name) { return theta.data() + at.at(name); };
  const Act x =
      test::silu_ref(test::conv2d_ref(images, p("stem.weight"), p("stem.bias"), 8, 3, 1, 1));
  Act s = test::adaptive_avg_ref(x, 1, 1);
  s = test::silu_ref(test::conv2d_ref(s, p("se.fc1.weight"), p("se.fc1.bias"), 4, 1, 1, 0));
  s = test::sigmoid_ref(test::conv2d_ref(s, p("se.fc2.weight"), p("se.fc2.bias"), 8, 1, 1, 0));
  Act y = test::hardswish_ref(test::scale_channels_ref(x, s));
  y = test::flatten_ref(test::pool_ref(y, 2, 2, /*max=*/false));
  return test::cross_entropy_ref(test::linear_ref(y, p("fc.weight"), p("fc.bias"), kClasses),
                                 labels);
}

// ResNet-20's downsampling block: relu6(conv1(x)) read by the main path (3x3 stride 2,
// Hardswish, 3x3) and by the option A shortcut (::2 and 2 zero channels each side), added, then
// GELU (tanh), a 1x1 head, GELU (erf), fc.
std::unique_ptr<nn::Graph> option_a_graph() {
  auto g = std::make_unique<nn::Graph>();
  g->add<nn::Conv2d>("conv1", 3, 4, 3, nn::Conv2dOptions{.padding = 1});
  const ValueId a = g->node<nn::ReLU6>({g->last_value()}, "relu");
  g->node<nn::Conv2d>({a}, "layer.conv1", 4, 8, 3, nn::Conv2dOptions{.stride = 2, .padding = 1});
  g->add<nn::Hardswish>("layer.act1");
  const ValueId m = g->node<nn::Conv2d>({g->last_value()}, "layer.conv2", 8, 8, 3,
                                        nn::Conv2dOptions{.padding = 1});
  const ValueId shortcut = g->node<nn::ZeroPadShortcut>({a}, "layer.shortcut", 2, 8);
  g->node<nn::Add>({m, shortcut}, "layer.add");
  g->add<nn::GELU>("layer.act2", ops::GeluApproximation::Tanh);
  g->add<nn::Conv2d>("head", 8, 8, 1);
  g->add<nn::GELU>("head_act");
  g->add<nn::Flatten>("flatten");
  g->add<nn::Linear>("fc", 72, kClasses);
  return g;
}

double option_a_loss(const std::vector<double>& theta, const Params& at, const Act& images,
                     const std::vector<int32_t>& labels) {
  const auto p = [&](const char* name) { return theta.data() + at.at(name); };
  const Act a =
      test::relu6_ref(test::conv2d_ref(images, p("conv1.weight"), p("conv1.bias"), 4, 3, 1, 1));
  Act m = test::hardswish_ref(
      test::conv2d_ref(a, p("layer.conv1.weight"), p("layer.conv1.bias"), 8, 3, 2, 1));
  m = test::conv2d_ref(m, p("layer.conv2.weight"), p("layer.conv2.bias"), 8, 3, 1, 1);
  Act y = test::gelu_ref(test::add_ref(m, test::zero_pad_shortcut_ref(a, 2, 2, 2)), true);
  y = test::gelu_ref(test::conv2d_ref(y, p("head.weight"), p("head.bias"), 8, 1, 1, 0), false);
  return test::cross_entropy_ref(
      test::linear_ref(test::flatten_ref(y), p("fc.weight"), p("fc.bias"), kClasses), labels);
}

struct Case {
  const char* name;
  std::unique_ptr<nn::Graph> (*make)();
  double (*loss)(const std::vector<double>&, const Params&, const Act&,
                 const std::vector<int32_t>&);
};

const Case kCases[] = {
    {"squeeze_excitation", &se_graph, &se_loss},
    {"option_a_downsample", &option_a_graph, &option_a_loss},
};

class ModernBlocks : public ::testing::TestWithParam<Case> {};

TEST_P(ModernBlocks, GradientsMatchCentralDifferencesOfTheFloat64Reference) {
  const Case& c = GetParam();
  std::mt19937_64 gen(test::test_seed() + 21);
  Context ctx;
  auto g = c.make();
  g->build(ctx, kInput, 3, kClasses);
  g->initialize(ctx, init::InitScheme::PyTorchDefault, gen());
  // Images in [-3, 3], so that ReLU6 and Hardswish see both edges and the middle.
  const Tensor x = test::random_tensor(Shape{3, 3, 6, 6}, gen, -3.0f, 3.0f);
  const Tensor labels = test::random_labels(3, kClasses, gen);
  const float loss = loss_and_gradients(ctx, *g, x, labels, 0);

  const Params at = packed_offsets(*g);
  const Act xr = to_act(x);
  const auto y = labels.to_int_vector();
  const auto f = [&](const std::vector<double>& theta) {
    return std::vector<double>{c.loss(theta, at, xr, y)};
  };
  const std::vector<double> theta = packed_parameters(*g);
  EXPECT_NEAR(loss, f(theta)[0], 1e-5 * std::abs(f(theta)[0]));
  const auto expected = test::numeric_gradient(f, theta, {1.0});
  EXPECT_TRUE(test::all_close(expected, packed_gradients(*g), 1e-4, 2e-6));
}

TEST_P(ModernBlocks, NoTwoLiveBlocksOverlap) {
  auto g = GetParam().make();
  g->plan(kInput, 5, kClasses);
  EXPECT_EQ(
      nn::find_plan_conflict(g->memory_blocks(), g->memory_plan(), nn::Graph::kArenaAlignment), "");
}

TEST_P(ModernBlocks, SameBitsRunToRunAndWithOneOrTwoThreads) {
  std::mt19937_64 gen(test::test_seed() + 22);
  Context ctx;
  auto g = GetParam().make();
  g->build(ctx, kInput, 4, kClasses);
  g->initialize(ctx, init::InitScheme::KaimingUniform, 5);
  const Tensor x = test::random_tensor(Shape{4, 3, 6, 6}, gen, -3.0f, 3.0f);
  const Tensor labels = test::random_labels(4, kClasses, gen);
  cpu::set_num_threads(1);
  const float loss1 = loss_and_gradients(ctx, *g, x, labels, 1);
  const Tensor grads1 = g->gradients().to(Device::cpu());
  cpu::set_num_threads(2);
  const float loss2 = loss_and_gradients(ctx, *g, x, labels, 1);
  const Tensor grads2 = g->gradients().to(Device::cpu());
  const float loss3 = loss_and_gradients(ctx, *g, x, labels, 1);
  cpu::set_num_threads(0);
  EXPECT_EQ(loss1, loss2);
  EXPECT_EQ(loss2, loss3);
  EXPECT_TRUE(bitwise_equal(grads1, grads2));
  EXPECT_TRUE(bitwise_equal(grads2, g->gradients()));
}

TEST_P(ModernBlocks, KeepingEveryActivationChangesNoBit) {
  std::mt19937_64 gen(test::test_seed() + 23);
  Context ctx;
  auto planned = GetParam().make(), kept = GetParam().make();
  kept->set_keep_activations(true);
  planned->build(ctx, kInput, 4, kClasses);
  kept->build(ctx, kInput, 4, kClasses);
  planned->initialize(ctx, init::InitScheme::PyTorchDefault, 3);
  kept->parameters().copy_from(planned->parameters());
  const Tensor x = test::random_tensor(Shape{4, 3, 6, 6}, gen, -3.0f, 3.0f);
  const Tensor labels = test::random_labels(4, kClasses, gen);
  EXPECT_EQ(loss_and_gradients(ctx, *planned, x, labels, 2),
            loss_and_gradients(ctx, *kept, x, labels, 2));
  EXPECT_TRUE(bitwise_equal(planned->gradients(), kept->gradients()));
}

INSTANTIATE_TEST_SUITE_P(Graphs, ModernBlocks, ::testing::ValuesIn(kCases),
                         [](const ::testing::TestParamInfo<Case>& param) {
                           return std::string(param.param.name);
                         });

std::vector<std::string> memory_notes(const nn::Graph& g) {
  std::vector<std::string> notes;
  for (const nn::LayerSummary& row : g.summary().layers) notes.push_back(row.memory_note);
  return notes;
}

// What each layer's backward reads decides where the graph runs it in place: Sigmoid and ReLU6
// (backward from y) overwrite their input; SiLU, Hardswish and GELU (backward from x) and
// ScaleChannels (reads both inputs) never do.
TEST(ModernBlocksPlan, InPlaceOnlyWhereTheBackwardDoesNotReadTheInput) {
  auto se = se_graph();
  se->plan(kInput, 2, kClasses);
  // stem stem_act se.avgpool se.fc1 se.activation se.fc2 se.scale_activation se.scale act pool
  // flatten fc
  EXPECT_EQ(memory_notes(*se),
            (std::vector<std::string>{"", "", "", "", "", "", "in place", "", "", "", "view", ""}));
  auto a = option_a_graph();
  a->plan(kInput, 2, kClasses);
  // conv1 relu layer.conv1 layer.act1 layer.conv2 layer.shortcut layer.add layer.act2 head
  // head_act flatten fc: Add in place on conv2's output.
  EXPECT_EQ(memory_notes(*a), (std::vector<std::string>{"", "in place", "", "", "", "", "in place",
                                                        "", "", "", "view", ""}));
}

// A Linear absorbs only a ReLU: ReLU6 (nonlinearity "relu6") after a Linear runs on its own.
TEST(ModernBlocksPlan, ALinearDoesNotAbsorbReLU6) {
  std::mt19937_64 gen(test::test_seed() + 24);
  Context ctx;
  nn::Graph g;
  g.add<nn::Flatten>("flatten");
  g.add<nn::Linear>("fc1", 108, 16);
  g.add<nn::ReLU6>("relu6");
  g.add<nn::Linear>("fc2", 16, kClasses);
  g.set_keep_activations(true);
  g.build(ctx, kInput, 2, kClasses);
  g.initialize(ctx, init::InitScheme::PyTorchDefault, 7);
  EXPECT_EQ(memory_notes(g), (std::vector<std::string>{"view", "", "in place", ""}));
  // Scale the first layer up so that some pre-activations exceed 6.
  for (const nn::NamedTensor& p : g.named_parameters())
    if (p.name == "fc1.weight") {
      Tensor w = p.tensor;
      float* d = w.data<float>();
      for (int64_t i = 0; i < w.numel(); ++i) d[i] *= 200.0f;
    }
  g.forward(ctx, test::random_tensor(Shape{2, 3, 6, 6}, gen), false, 0);
  const auto v = g.layer_output(2).to_vector();
  EXPECT_LE(*std::max_element(v.begin(), v.end()), 6.0f);
  EXPECT_EQ(*std::max_element(v.begin(), v.end()), 6.0f);
}

// The Kaiming schemes take the gain of the activation after each layer: sqrt(2) for SiLU, GELU,
// Hardswish and ReLU6 (init::gain_name, torchvision's choice for EfficientNet and the
// MobileNets), 1 for Sigmoid (torch's calculate_gain("sigmoid")).
TEST(ModernBlocksInit, KaimingGainsOfTheNewActivations) {
  Context ctx;
  for (auto make : {&se_graph, &option_a_graph}) {
    auto g = make();
    g->build(ctx, kInput, 2, kClasses);
    g->initialize(ctx, init::InitScheme::KaimingUniform, 11);
    for (const nn::NamedTensor& p : g->named_parameters()) {
      if (p.tensor.ndim() < 2) continue;
      const double fan_in = static_cast<double>(p.tensor.numel() / p.tensor.dim(0));
      const double gain = p.name == "se.fc2.weight" ? 1.0 : std::sqrt(2.0);
      const double bound = gain * std::sqrt(3.0 / fan_in);
      const auto v = p.tensor.to_vector();
      double largest = 0.0;
      for (float w : v) largest = std::max(largest, std::fabs(static_cast<double>(w)));
      EXPECT_LE(largest, bound * (1.0 + 1e-6)) << p.name;
      EXPECT_GT(largest, 0.75 * bound) << p.name;
    }
  }
}

TEST(ModernBlocksLayers, TypesNamesAndWhatTheirBackwardReads) {
  struct Expect {
    std::unique_ptr<nn::Layer> layer;
    const char* type;
    const char* nonlinearity;
    bool needs_input, needs_output;
  };
  Expect cases[] = {
      {std::make_unique<nn::Sigmoid>("a"), "Sigmoid", "sigmoid", false, true},
      {std::make_unique<nn::SiLU>("b"), "SiLU", "silu", true, false},
      {std::make_unique<nn::GELU>("c"), "GELU", "gelu", true, false},
      {std::make_unique<nn::GELU>("d", ops::GeluApproximation::Tanh), "GELU", "gelu", true, false},
      {std::make_unique<nn::Hardswish>("e"), "Hardswish", "hardswish", true, false},
      {std::make_unique<nn::ReLU6>("f"), "ReLU6", "relu6", false, true},
  };
  for (const Expect& e : cases) {
    SCOPED_TRACE(e.type);
    EXPECT_EQ(e.layer->type(), e.type);
    EXPECT_EQ(e.layer->nonlinearity(), e.nonlinearity);
    EXPECT_EQ(e.layer->aliasing(), nn::Aliasing::InPlace);
    EXPECT_EQ(e.layer->backward_needs_input(), e.needs_input);
    EXPECT_EQ(e.layer->backward_needs_output(), e.needs_output);
    EXPECT_NO_THROW(init::calculate_gain(init::gain_name(e.layer->nonlinearity())));
  }
  EXPECT_EQ(nn::GELU("g", ops::GeluApproximation::Tanh).approximate(),
            ops::GeluApproximation::Tanh);
  EXPECT_EQ(nn::GELU("g").approximate(), ops::GeluApproximation::None);
}

}  // namespace
}  // namespace kestrel
