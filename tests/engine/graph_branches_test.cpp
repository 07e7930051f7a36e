// Graphs with branches: forward against a float64 reference, parameter gradients against its
// central differences on a value read by three nodes, residual adds (in place and not), a value
// concatenated with itself and a side branch whose value only its reader's backward reads
// later; the memory plan (no two live blocks overlap, in-place decisions, two gradient blocks
// for a chain), bit-identical results run to run and with 1 or 2 threads, and the errors of a
// graph built wrong.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>

#include "engine/nn/activation.hpp"
#include "engine/nn/add.hpp"
#include "engine/nn/concat.hpp"
#include "engine/nn/conv2d.hpp"
#include "engine/nn/flatten.hpp"
#include "engine/nn/graph.hpp"
#include "engine/nn/linear.hpp"
#include "engine/nn/pooling.hpp"
#include "engine/optim/sgd.hpp"
#include "kernels/cpu/parallel.hpp"
#include "models/registry.hpp"
#include "tests/engine/graph_test_support.hpp"
#include "tests/support/branching_net.hpp"
#include "tests/support/gradcheck.hpp"
#include "tests/support/random.hpp"

namespace kestrel {
namespace {

using nn::ValueId;
using test::Act;
using test::bitwise_equal;
using test::error_of;
using test::loss_and_gradients;
using test::packed_gradients;
using test::packed_offsets;
using test::packed_parameters;
using test::to_act;

constexpr int64_t kClasses = 4;
const Shape kInput{3, 6, 6};
using Params = std::map<std::string, size_t>;

// The stem's value read by three nodes (a 1x1 conv, a tanh, a 3x3 conv), concatenated.
std::unique_ptr<nn::Graph> fan_out_graph() {
  auto g = std::make_unique<nn::Graph>();
  const ValueId stem =
      g->node<nn::Conv2d>({nn::Graph::kInput}, "stem", 3, 4, 3, nn::Conv2dOptions{.padding = 1});
  const ValueId a = g->node<nn::Conv2d>({stem}, "a", 4, 3, 1);
  const ValueId b = g->node<nn::Tanh>({stem}, "b");
  const ValueId c = g->node<nn::Conv2d>({stem}, "c", 4, 2, 3, nn::Conv2dOptions{.padding = 1});
  g->node<nn::Concat>({a, b, c}, "cat");
  g->add<nn::ReLU>("relu");
  g->add<nn::AvgPool2d>("pool", 2);
  g->add<nn::Flatten>("flatten");
  g->add<nn::Linear>("fc", 81, kClasses);
  return g;
}

double fan_out_loss(const std::vector<double>& theta, const Params& at, const Act& x,
                    const std::vector<int32_t>& labels) {
  const auto p = [&](const char* name) { return theta.data() + at.at(name); };
  const Act stem = test::conv2d_ref(x, p("stem.weight"), p("stem.bias"), 4, 3, 1, 1);
  const Act a = test::conv2d_ref(stem, p("a.weight"), p("a.bias"), 3, 1, 1, 0);
  const Act b = test::tanh_ref(stem);
  const Act c = test::conv2d_ref(stem, p("c.weight"), p("c.bias"), 2, 3, 1, 1);
  Act y = test::pool_ref(test::relu_ref(test::concat_ref({a, b, c})), 2, 2, /*max=*/false);
  y = test::linear_ref(test::flatten_ref(y), p("fc.weight"), p("fc.bias"), kClasses);
  return test::cross_entropy_ref(y, labels);
}

// Two residual blocks: add1 cannot run in place (tanh reads its own output in backward), add2
// runs in place on conv3's output and the ReLU after it in place on that.
std::unique_ptr<nn::Graph> residual_graph() {
  auto g = std::make_unique<nn::Graph>();
  g->add<nn::Conv2d>("conv1", 3, 4, 3, nn::Conv2dOptions{.padding = 1});
  const ValueId r = g->node<nn::ReLU>({g->last_value()}, "relu1");
  g->add<nn::Conv2d>("conv2", 4, 4, 3, nn::Conv2dOptions{.padding = 1});
  const ValueId t = g->node<nn::Tanh>({g->last_value()}, "tanh2");
  const ValueId add1 = g->node<nn::Add>({t, r}, "add1");
  const ValueId c3 = g->node<nn::Conv2d>({add1}, "conv3", 4, 4, 1);
  g->node<nn::Add>({c3, add1}, "add2");
  g->add<nn::ReLU>("relu2");
  g->add<nn::Flatten>("flatten");
  g->add<nn::Linear>("fc", 144, kClasses);
  return g;
}

double residual_loss(const std::vector<double>& theta, const Params& at, const Act& x,
                     const std::vector<int32_t>& labels) {
  const auto p = [&](const char* name) { return theta.data() + at.at(name); };
  const Act r = test::relu_ref(test::conv2d_ref(x, p("conv1.weight"), p("conv1.bias"), 4, 3, 1, 1));
  const Act t = test::tanh_ref(test::conv2d_ref(r, p("conv2.weight"), p("conv2.bias"), 4, 3, 1, 1));
  const Act add1 = test::add_ref(t, r);
  const Act c3 = test::conv2d_ref(add1, p("conv3.weight"), p("conv3.bias"), 4, 1, 1, 0);
  const Act y = test::relu_ref(test::add_ref(c3, add1));
  return test::cross_entropy_ref(
      test::linear_ref(test::flatten_ref(y), p("fc.weight"), p("fc.bias"), kClasses), labels);
}

// A value read four times by two nodes: cat(v, v) and v + v, both concatenated.
std::unique_ptr<nn::Graph> self_concat_graph() {
  auto g = std::make_unique<nn::Graph>();
  const ValueId v =
      g->node<nn::Conv2d>({nn::Graph::kInput}, "conv", 3, 2, 3, nn::Conv2dOptions{.padding = 1});
  const ValueId cat = g->node<nn::Concat>({v, v}, "cat");
  const ValueId twice = g->node<nn::Add>({v, v}, "twice");
  g->node<nn::Concat>({cat, twice}, "both");
  g->add<nn::MaxPool2d>("pool", 2);
  g->add<nn::Flatten>("flatten");
  g->add<nn::Linear>("fc", 54, kClasses);
  return g;
}

double self_concat_loss(const std::vector<double>& theta, const Params& at, const Act& x,
                        const std::vector<int32_t>& labels) {
  const auto p = [&](const char* name) { return theta.data() + at.at(name); };
  const Act v = test::conv2d_ref(x, p("conv.weight"), p("conv.bias"), 2, 3, 1, 1);
  const Act both = test::concat_ref({test::concat_ref({v, v}), test::add_ref(v, v)});
  const Act y = test::flatten_ref(test::pool_ref(both, 2, 2, /*max=*/true));
  return test::cross_entropy_ref(test::linear_ref(y, p("fc.weight"), p("fc.bias"), kClasses),
                                 labels);
}

// A side branch (pool, 1x1 conv) off c1: its pooled value is read in forward at step 2 only,
// but side_conv's backward reads it again at the end, while the main path's blocks come and go
// in between.
std::unique_ptr<nn::Graph> side_branch_graph() {
  auto g = std::make_unique<nn::Graph>();
  const ValueId c1 =
      g->node<nn::Conv2d>({nn::Graph::kInput}, "c1", 3, 6, 3, nn::Conv2dOptions{.padding = 1});
  const ValueId pooled = g->node<nn::MaxPool2d>({c1}, "side_pool", 2);
  const ValueId side = g->node<nn::Conv2d>({pooled}, "side_conv", 6, 4, 1);
  g->node<nn::Conv2d>({c1}, "c2", 6, 6, 3, nn::Conv2dOptions{.padding = 1});
  g->add<nn::ReLU>("relu2");
  g->add<nn::Conv2d>("c3", 6, 6, 3, nn::Conv2dOptions{.padding = 1});
  g->add<nn::ReLU>("relu3");
  const ValueId main = g->node<nn::AvgPool2d>({g->last_value()}, "main_pool", 2);
  g->node<nn::Concat>({main, side}, "cat");
  g->add<nn::Flatten>("flatten");
  g->add<nn::Linear>("fc", 90, kClasses);
  return g;
}

double side_branch_loss(const std::vector<double>& theta, const Params& at, const Act& x,
                        const std::vector<int32_t>& labels) {
  const auto p = [&](const char* name) { return theta.data() + at.at(name); };
  const Act c1 = test::conv2d_ref(x, p("c1.weight"), p("c1.bias"), 6, 3, 1, 1);
  const Act side = test::conv2d_ref(test::pool_ref(c1, 2, 2, /*max=*/true), p("side_conv.weight"),
                                    p("side_conv.bias"), 4, 1, 1, 0);
  Act m = test::relu_ref(test::conv2d_ref(c1, p("c2.weight"), p("c2.bias"), 6, 3, 1, 1));
  m = test::relu_ref(test::conv2d_ref(m, p("c3.weight"), p("c3.bias"), 6, 3, 1, 1));
  const Act y = test::flatten_ref(test::concat_ref({test::pool_ref(m, 2, 2, false), side}));
  return test::cross_entropy_ref(test::linear_ref(y, p("fc.weight"), p("fc.bias"), kClasses),
                                 labels);
}

struct Case {
  const char* name;
  std::unique_ptr<nn::Graph> (*make)();
  double (*loss)(const std::vector<double>&, const Params&, const Act&,
                 const std::vector<int32_t>&);
};

const Case kCases[] = {
    {"fan_out", &fan_out_graph, &fan_out_loss},
    {"residual", &residual_graph, &residual_loss},
    {"self_concat", &self_concat_graph, &self_concat_loss},
    {"side_branch", &side_branch_graph, &side_branch_loss},
};

class Branches : public ::testing::TestWithParam<Case> {};

TEST_P(Branches, GradientsMatchCentralDifferencesOfTheFloat64Reference) {
  const Case& c = GetParam();
  std::mt19937_64 gen(test::test_seed() + 11);
  Context ctx;
  auto g = c.make();
  g->build(ctx, kInput, 3, kClasses);
  g->initialize(ctx, init::InitScheme::PyTorchDefault, gen());
  const Tensor x = test::random_tensor(Shape{3, 3, 6, 6}, gen);
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

TEST_P(Branches, NoTwoLiveBlocksOverlap) {
  auto g = GetParam().make();
  g->plan(kInput, 5, kClasses);
  EXPECT_EQ(
      nn::find_plan_conflict(g->memory_blocks(), g->memory_plan(), nn::Graph::kArenaAlignment), "");
  EXPECT_LT(g->memory_plan().arena_bytes, g->memory_plan().unplanned_bytes);
}

TEST_P(Branches, SameBitsRunToRunAndWithOneOrTwoThreads) {
  std::mt19937_64 gen(test::test_seed() + 12);
  Context ctx;
  auto g = GetParam().make();
  g->build(ctx, kInput, 4, kClasses);
  g->initialize(ctx, init::InitScheme::KaimingUniform, 5);
  const Tensor x = test::random_tensor(Shape{4, 3, 6, 6}, gen);
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

TEST_P(Branches, KeepingEveryActivationChangesNoBit) {
  // The reuse of memory is invisible: the same step with no reuse gives the same bits.
  std::mt19937_64 gen(test::test_seed() + 13);
  Context ctx;
  auto planned = GetParam().make(), kept = GetParam().make();
  kept->set_keep_activations(true);
  planned->build(ctx, kInput, 4, kClasses);
  kept->build(ctx, kInput, 4, kClasses);
  EXPECT_GT(kept->memory_plan().arena_bytes, planned->memory_plan().arena_bytes);
  planned->initialize(ctx, init::InitScheme::PyTorchDefault, 3);
  kept->parameters().copy_from(planned->parameters());
  const Tensor x = test::random_tensor(Shape{4, 3, 6, 6}, gen);
  const Tensor labels = test::random_labels(4, kClasses, gen);
  EXPECT_EQ(loss_and_gradients(ctx, *planned, x, labels, 2),
            loss_and_gradients(ctx, *kept, x, labels, 2));
  EXPECT_TRUE(bitwise_equal(planned->gradients(), kept->gradients()));
}

INSTANTIATE_TEST_SUITE_P(Graphs, Branches, ::testing::ValuesIn(kCases),
                         [](const ::testing::TestParamInfo<Case>& param) {
                           return std::string(param.param.name);
                         });

std::vector<std::string> memory_notes(const nn::Graph& g) {
  std::vector<std::string> notes;
  for (const nn::LayerSummary& row : g.summary().layers) notes.push_back(row.memory_note);
  return notes;
}

TEST(GraphBranches, InPlaceOnlyWhereNothingElseReadsTheOverwrittenMemory) {
  auto residual = residual_graph();
  residual->plan(kInput, 2, kClasses);
  // conv1 relu1 conv2 tanh2 add1 conv3 add2 relu2 flatten fc: relu1 in place (conv1's output
  // has one reader); add1 not (tanh2 reads its output in backward); add2 in place on conv3's
  // output, relu2 in place on that.
  EXPECT_EQ(memory_notes(*residual),
            (std::vector<std::string>{"", "in place", "", "in place", "", "", "in place",
                                      "in place", "view", ""}));

  // The fan-out: the tanh reads a value with three readers, so it gets its own memory.
  auto fan = fan_out_graph();
  fan->plan(kInput, 2, kClasses);
  EXPECT_EQ(memory_notes(*fan),
            (std::vector<std::string>{"", "", "", "", "", "in place", "", "view", ""}));
  // The summary names what each node reads once the graph branches.
  const auto rows = fan->summary().layers;
  EXPECT_EQ(rows[4].inputs, (std::vector<std::string>{"a", "b", "c"}));
  EXPECT_EQ(rows[0].inputs, (std::vector<std::string>{"input"}));
  EXPECT_NE(nn::format_summary(fan->summary(), "fan").find("a, b, c"), std::string::npos);
}

TEST(GraphBranches, TheSideBranchStaysLiveUntilItsReadersBackward) {
  auto g = side_branch_graph();
  g->plan(kInput, 2, kClasses);
  // side_pool (node 1) is read by side_conv (node 2), whose backward runs at step 2N-1-2.
  const int n = g->size();
  const auto& blocks = g->memory_blocks();
  bool found = false;
  for (const nn::MemoryBlock& b : blocks)
    if (b.kind == nn::BlockKind::Activation && b.first == 1) {
      EXPECT_EQ(b.last, 2 * n - 1 - 2);
      found = true;
    }
  EXPECT_TRUE(found);
}

// Activation gradient blocks live at each backward step.
int most_live_gradient_blocks(const nn::Graph& g) {
  int most = 0;
  for (int t = 0; t < 2 * g.size(); ++t) {
    int live = 0;
    for (const nn::MemoryBlock& b : g.memory_blocks())
      if (b.kind == nn::BlockKind::Gradient && b.first <= t && t <= b.last) ++live;
    most = std::max(most, live);
  }
  return most;
}

TEST(GraphBranches, AChainNeedsTwoActivationGradientBlocks) {
  for (const char* model : {"lenet5", "alexnet"}) {
    auto g = models::build_model(model, model == std::string("lenet5")
                                            ? models::ModelInput{1, 28, 28, 10}
                                            : models::ModelInput{3, 32, 32, 10});
    const models::ModelInput in = model == std::string("lenet5")
                                      ? models::ModelInput{1, 28, 28, 10}
                                      : models::ModelInput{3, 32, 32, 10};
    g->plan(in.shape(), 16, in.classes);
    EXPECT_EQ(most_live_gradient_blocks(*g), 2) << model;
    // The logits' gradient comes from the loss in a buffer of its own: the plan holds no
    // logits-sized gradient block (16 x 10 floats; no other value of either model is that size).
    for (const nn::MemoryBlock& b : g->memory_blocks()) {
      if (b.kind == nn::BlockKind::Gradient) {
        EXPECT_NE(b.bytes, int64_t{16 * 10 * 4}) << model;
      }
    }
    EXPECT_EQ(
        nn::find_plan_conflict(g->memory_blocks(), g->memory_plan(), nn::Graph::kArenaAlignment),
        "")
        << model;
  }
}

TEST(GraphBranches, AResidualAndAnInceptionBlockTrain) {
  // The blocks of ResNet and GoogLeNet (without batch norm) learn a fixed batch: the loss falls
  // to a tenth of its start in 60 SGD steps. (At 30 steps and half the start, 2 seeds in 200 fell
  // short; at 60 steps the worst of 200 seeds ends at 0.00074 of its start.)
  std::mt19937_64 gen(test::test_seed() + 15);
  Context ctx;
  auto g = test::branching_net(3, 5);
  g->build(ctx, Shape{3, 8, 8}, 16, 5);
  g->initialize(ctx, init::InitScheme::KaimingUniform, 4);
  optim::Sgd sgd({.lr = 0.05f, .momentum = 0.9f});
  const Tensor x = test::random_tensor(Shape{16, 3, 8, 8}, gen);
  const Tensor labels = test::random_labels(16, 5, gen);
  const float first = loss_and_gradients(ctx, *g, x, labels, 0);
  float last = first;
  for (int64_t step = 1; step <= 60; ++step) {
    sgd.step(ctx, g->parameters(), g->gradients());
    last = loss_and_gradients(ctx, *g, x, labels, step);
  }
  EXPECT_TRUE(std::isfinite(last));
  EXPECT_LT(last, 0.1f * first) << "first " << first << ", last " << last;
  EXPECT_EQ(
      nn::find_plan_conflict(g->memory_blocks(), g->memory_plan(), nn::Graph::kArenaAlignment), "");
}

TEST(GraphBranches, LayerOutputRefusesAValueWhoseMemoryWasReused) {
  std::mt19937_64 gen(test::test_seed() + 14);
  Context ctx;
  auto g = side_branch_graph();
  g->build(ctx, kInput, 2, kClasses);
  g->forward(ctx, test::random_tensor(Shape{2, 3, 6, 6}, gen), false, 0);
  // main_pool's output is read by cat alone, whose backward reads nothing: dead after cat.
  EXPECT_NE(error_of([&] { g->layer_output(7); }).find("main_pool is not kept after forward"),
            std::string::npos);
  EXPECT_EQ(g->layer_output(10).shape(), (Shape{2, kClasses}));
}

TEST(GraphBranches, ErrorsOfAGraphBuiltWrong) {
  nn::Graph g;
  const ValueId a = g.node<nn::Conv2d>({nn::Graph::kInput}, "a", 3, 2, 1);
  EXPECT_NE(error_of([&] {
              g.node<nn::ReLU>({5}, "r");
            }).find("graph: layer r reads value 5, which is not in the graph (values 0 to 1)"),
            std::string::npos);
  EXPECT_NE(error_of([&] {
              g.node<nn::Add>({a}, "sum");
            }).find("graph: layer sum (Add) reads two or more values, got 1 value(s)"),
            std::string::npos);
  EXPECT_NE(error_of([&] {
              g.node<nn::ReLU>({a, a}, "r2");
            }).find("graph: layer r2 (ReLU) reads 1 value(s), got 2 value(s)"),
            std::string::npos);
  const ValueId b = g.node<nn::Conv2d>({nn::Graph::kInput}, "b", 3, 3, 1);
  g.node<nn::Add>({a, b}, "mismatch");
  EXPECT_NE(error_of([&] { g.plan(kInput, 2, kClasses); })
                .find("layer mismatch (Add) on input [2, 2, 6, 6] and [2, 3, 6, 6]: Add: input 1 "
                      "is [2, 3, 6, 6] but input 0 is [2, 2, 6, 6]"),
            std::string::npos);

  // A dangling branch is a mistake in the builder.
  nn::Graph dangling;
  dangling.node<nn::Conv2d>({nn::Graph::kInput}, "unused", 3, 2, 1);
  dangling.node<nn::Flatten>({nn::Graph::kInput}, "flatten");
  dangling.add<nn::Linear>("fc", 108, kClasses);
  EXPECT_NE(error_of([&] {
              dangling.plan(kInput, 2, kClasses);
            }).find("graph: the output of layer unused (Conv2d) is never read"),
            std::string::npos);
}

}  // namespace
}  // namespace kestrel
