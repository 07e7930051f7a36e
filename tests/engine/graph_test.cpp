// The static graph: its forward against the ops chained by hand (bit for bit) and against a
// float64 reference, its parameter gradients against central differences of that reference,
// the flat buffers and their named views, in-place planning, dropout in training and
// evaluation, a smaller last batch, no allocation during a step, thread-count independence and
// error messages.
#include "engine/nn/graph.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <map>

#include "engine/memory/memory_pool.hpp"
#include "engine/nn/activation.hpp"
#include "engine/nn/conv2d.hpp"
#include "engine/nn/drop_path.hpp"
#include "engine/nn/dropout.hpp"
#include "engine/nn/flatten.hpp"
#include "engine/nn/linear.hpp"
#include "engine/nn/lrn.hpp"
#include "engine/nn/pooling.hpp"
#include "engine/ops/activation.hpp"
#include "engine/ops/conv2d.hpp"
#include "engine/ops/cross_entropy.hpp"
#include "engine/ops/linear.hpp"
#include "engine/ops/pool2d.hpp"
#include "engine/optim/adam.hpp"
#include "kernels/cpu/parallel.hpp"
#include "tests/engine/graph_reference.hpp"
#include "tests/engine/graph_test_support.hpp"
#include "tests/support/compare.hpp"
#include "tests/support/gradcheck.hpp"
#include "tests/support/random.hpp"

namespace kestrel {
namespace {

using test::Act;
using test::bitwise_equal;
using test::error_of;
using test::loss_and_gradients;
using test::packed_gradients;
using test::packed_offsets;
using test::packed_parameters;
using test::to_act;

constexpr int64_t kClasses = 5;

// conv -> ReLU -> max-pool -> flatten -> fc1 -> ReLU (fused) -> fc2, on 3x8x8 images.
std::unique_ptr<nn::Graph> relu_graph() {
  auto g = std::make_unique<nn::Graph>();
  g->add<nn::Conv2d>("conv", 3, 4, 3, nn::Conv2dOptions{.padding = 1});
  g->add<nn::ReLU>("relu");
  g->add<nn::MaxPool2d>("pool", 2);
  g->add<nn::Flatten>("flatten");
  g->add<nn::Linear>("fc1", 0, 6);
  g->add<nn::ReLU>("relu_fc");
  g->add<nn::Linear>("fc2", 6, kClasses);
  return g;
}
const Shape kReluInput{3, 8, 8};

// Every other layer kind, on odd 3x7x7 images: a strided conv, tanh, overlapping average
// pooling, LRN, adaptive pooling that overlaps, dropout, tanh after a Linear.
constexpr float kDropoutP = 0.25f;
constexpr int kDropoutIndex = 6;
std::unique_ptr<nn::Graph> tanh_graph() {
  auto g = std::make_unique<nn::Graph>();
  g->add<nn::Conv2d>("conv", 3, 4, 3, nn::Conv2dOptions{.stride = 2, .padding = 1});  // 7 -> 4
  g->add<nn::Tanh>("tanh");
  g->add<nn::AvgPool2d>("pool", 2, nn::PoolOptions{.stride = 1});  // 4 -> 3
  g->add<nn::LocalResponseNorm>("lrn", 3, 0.5f, 0.75f, 2.0f);
  g->add<nn::AdaptiveAvgPool2d>("adaptive", 2, 2);  // 3 -> 2, windows [0, 2) and [1, 3)
  g->add<nn::Flatten>("flatten");
  g->add<nn::Dropout>("dropout", kDropoutP);
  g->add<nn::Linear>("fc1", 16, 6);
  g->add<nn::Tanh>("tanh_fc");
  g->add<nn::Linear>("fc2", 6, kClasses);
  return g;
}
const Shape kTanhInput{3, 7, 7};

// The float64 loss of relu_graph() for packed parameters theta.
double relu_graph_loss(const std::vector<double>& theta, const std::map<std::string, size_t>& at,
                       const Act& x, const std::vector<int32_t>& labels) {
  const auto p = [&](const char* name) { return theta.data() + at.at(name); };
  Act a = test::conv2d_ref(x, p("conv.weight"), p("conv.bias"), 4, 3, 1, 1);
  a = test::pool_ref(test::relu_ref(a), 2, 2, /*max=*/true);
  a = test::relu_ref(test::linear_ref(test::flatten_ref(a), p("fc1.weight"), p("fc1.bias"), 6));
  return test::cross_entropy_ref(test::linear_ref(a, p("fc2.weight"), p("fc2.bias"), kClasses),
                                 labels);
}

double tanh_graph_loss(const std::vector<double>& theta, const std::map<std::string, size_t>& at,
                       const Act& x, const std::vector<int32_t>& labels, uint64_t seed,
                       int64_t step) {
  const auto p = [&](const char* name) { return theta.data() + at.at(name); };
  Act a = test::tanh_ref(test::conv2d_ref(x, p("conv.weight"), p("conv.bias"), 4, 3, 2, 1));
  a = test::lrn_ref(test::pool_ref(a, 2, 1, /*max=*/false), 3, 0.5, 0.75, 2.0);
  a = test::flatten_ref(test::adaptive_avg_ref(a, 2, 2));
  a = test::dropout_ref(a, kDropoutP, seed, nn::dropout_stream(step, kDropoutIndex));
  a = test::tanh_ref(test::linear_ref(a, p("fc1.weight"), p("fc1.bias"), 6));
  return test::cross_entropy_ref(test::linear_ref(a, p("fc2.weight"), p("fc2.bias"), kClasses),
                                 labels);
}

TEST(Graph, ForwardEqualsTheOpsChainedByHand) {
  std::mt19937_64 gen(test::test_seed());
  Context ctx;
  auto g = relu_graph();
  g->set_keep_activations(true);  // to compare every layer's output, not only the logits
  g->build(ctx, kReluInput, 2, kClasses);
  g->initialize(ctx, init::InitScheme::PyTorchDefault, gen());
  const Tensor x = test::random_tensor(Shape{2, 3, 8, 8}, gen);
  const Tensor logits = g->forward(ctx, x, /*training=*/false, 0);

  std::map<std::string, Tensor> p;
  for (const nn::NamedTensor& t : g->named_parameters()) p[t.name] = t.tensor;
  Tensor c = Tensor::empty(Shape{2, 4, 8, 8}), pooled = Tensor::empty(Shape{2, 4, 4, 4});
  Tensor argmax = Tensor::empty(Shape{2, 4, 4, 4}, DType::I32);
  Tensor h = Tensor::empty(Shape{2, 6}), out = Tensor::empty(Shape{2, kClasses});
  ops::Conv2dSpec conv;
  conv.pad_h = conv.pad_w = 1;
  ops::conv2d_forward(ctx, x, p["conv.weight"], &p["conv.bias"], c, conv);
  ops::relu_forward(ctx, c, c);
  ops::max_pool2d_forward(ctx, c, pooled, argmax, ops::Pool2dSpec{2, 2, 2, 2});
  ops::linear_forward(ctx, pooled.flatten(1), p["fc1.weight"], &p["fc1.bias"], h, true);
  ops::linear_forward(ctx, h, p["fc2.weight"], &p["fc2.bias"], out);

  EXPECT_TRUE(bitwise_equal(g->layer_output(0), c));
  EXPECT_TRUE(bitwise_equal(g->layer_output(2), pooled));
  EXPECT_TRUE(bitwise_equal(g->layer_output(5), h));
  EXPECT_TRUE(bitwise_equal(logits, out));
}

TEST(Graph, ReluGraphGradientsMatchCentralDifferences) {
  std::mt19937_64 gen(test::test_seed() + 1);
  Context ctx;
  auto g = relu_graph();
  g->build(ctx, kReluInput, 2, kClasses);
  g->initialize(ctx, init::InitScheme::PyTorchDefault, gen());
  const Tensor x = test::random_tensor(Shape{2, 3, 8, 8}, gen);
  const Tensor labels = test::random_labels(2, kClasses, gen);
  const float loss = loss_and_gradients(ctx, *g, x, labels, 0);

  const auto at = packed_offsets(*g);
  const Act xr = to_act(x);
  const auto y = labels.to_int_vector();
  const auto f = [&](const std::vector<double>& theta) {
    return std::vector<double>{relu_graph_loss(theta, at, xr, y)};
  };
  const std::vector<double> theta = packed_parameters(*g);
  EXPECT_NEAR(loss, f(theta)[0], 1e-5 * std::abs(f(theta)[0]));
  const auto expected = test::numeric_gradient(f, theta, {1.0});
  // f32 against f64 over sums of up to 64 terms.
  EXPECT_TRUE(test::all_close(expected, packed_gradients(*g), 1e-4, 2e-6));
}

TEST(Graph, TanhGraphGradientsMatchCentralDifferences) {
  std::mt19937_64 gen(test::test_seed() + 2);
  Context ctx;
  auto g = tanh_graph();
  g->build(ctx, kTanhInput, 3, kClasses);
  const uint64_t seed = gen();
  g->initialize(ctx, init::InitScheme::PyTorchDefault, seed);
  ASSERT_EQ(g->layer(kDropoutIndex).type(), "Dropout");
  const Tensor x = test::random_tensor(Shape{3, 3, 7, 7}, gen, -2.0f, 2.0f);
  const Tensor labels = test::random_labels(3, kClasses, gen);
  const int64_t step = 7;
  const float loss = loss_and_gradients(ctx, *g, x, labels, step);

  const auto at = packed_offsets(*g);
  const Act xr = to_act(x);
  const auto y = labels.to_int_vector();
  const auto f = [&](const std::vector<double>& theta) {
    return std::vector<double>{tanh_graph_loss(theta, at, xr, y, seed, step)};
  };
  const std::vector<double> theta = packed_parameters(*g);
  EXPECT_NEAR(loss, f(theta)[0], 1e-5 * std::abs(f(theta)[0]));
  const auto expected = test::numeric_gradient(f, theta, {1.0});
  EXPECT_TRUE(test::all_close(expected, packed_gradients(*g), 1e-4, 2e-6));
}

TEST(Graph, NamedViewsWriteIntoTheFlatBufferAtTheirOffsets) {
  Context ctx;
  auto g = relu_graph();
  g->build(ctx, kReluInput, 2, kClasses);
  const auto infos = g->parameter_infos();
  const auto named = g->named_parameters();
  const auto grads = g->named_gradients();
  ASSERT_EQ(named.size(), 6u);
  int64_t expected_offset = 0;
  for (size_t k = 0; k < named.size(); ++k) {
    EXPECT_EQ(infos[k].offset, expected_offset) << infos[k].name;
    EXPECT_EQ(infos[k].offset % nn::Graph::kParamAlignment, 0);
    expected_offset += (infos[k].shape.numel() + 63) / 64 * 64;
    Tensor view = named[k].tensor;
    const int64_t last = view.numel() - 1;
    view.data<float>()[last] = 100.0f + static_cast<float>(k);
    EXPECT_EQ(g->parameters().data<float>()[infos[k].offset + last],
              100.0f + static_cast<float>(k));
    Tensor grad = grads[k].tensor;
    grad.data<float>()[0] = -1.0f - static_cast<float>(k);
    EXPECT_EQ(g->gradients().data<float>()[infos[k].offset], -1.0f - static_cast<float>(k));
  }
  EXPECT_EQ(g->parameters().numel(), expected_offset);
  EXPECT_EQ(g->parameter_count(), 112 + 390 + 35);
}

TEST(Graph, InitializeIsSeededAndLeavesThePaddingAtZero) {
  Context ctx;
  auto a = relu_graph(), b = relu_graph();
  a->build(ctx, kReluInput, 2, kClasses);
  b->build(ctx, kReluInput, 2, kClasses);
  a->initialize(ctx, init::InitScheme::PyTorchDefault, 42);
  b->initialize(ctx, init::InitScheme::PyTorchDefault, 42);
  EXPECT_TRUE(bitwise_equal(a->parameters(), b->parameters()));
  EXPECT_EQ(a->seed(), 42u);
  b->initialize(ctx, init::InitScheme::PyTorchDefault, 43);
  EXPECT_FALSE(bitwise_equal(a->parameters(), b->parameters()));

  // PyTorch's default: U(-1/sqrt(fan_in), 1/sqrt(fan_in)) for weight and bias.
  for (const nn::NamedTensor& p : a->named_parameters()) {
    const double fan_in = p.name.starts_with("conv")  ? 27.0
                          : p.name.starts_with("fc1") ? 64.0
                                                      : 6.0;
    double largest = 0.0;
    for (float v : p.tensor.to_vector()) largest = std::max(largest, std::abs(double{v}));
    EXPECT_LE(largest, 1.0 / std::sqrt(fan_in) + 1e-7) << p.name;
    EXPECT_GT(largest, 0.0) << p.name;
  }
  // Every element outside the named tensors is padding and stays zero.
  std::vector<bool> used(static_cast<size_t>(a->parameters().numel()), false);
  for (const nn::ParamInfo& p : a->parameter_infos())
    for (int64_t i = 0; i < p.shape.numel(); ++i) used[static_cast<size_t>(p.offset + i)] = true;
  const auto flat = a->parameters().to_vector();
  for (size_t i = 0; i < flat.size(); ++i) {
    if (!used[i]) {
      EXPECT_EQ(flat[i], 0.0f) << "padding element " << i;
    }
  }
}

TEST(Graph, PlansInPlaceViewsAndFusionWhereBackwardAllowsIt) {
  auto g = tanh_graph();
  g->plan(kTanhInput, 4, kClasses);
  const auto rows = g->summary().layers;
  const std::vector<std::string> expected = {"",     "in place", "", "",         "",
                                             "view", "in place", "", "in place", ""};
  ASSERT_EQ(rows.size(), expected.size());
  for (size_t i = 0; i < rows.size(); ++i)
    EXPECT_EQ(rows[i].memory_note, expected[i]) << rows[i].name;

  // A layer that reads its own output in backward keeps it: no ReLU in place after an LRN or a
  // ReLU, no dropout in place after a ReLU; a ReLU after a Linear is fused.
  nn::Graph h;
  h.add<nn::Conv2d>("conv", 2, 3, 1);
  h.add<nn::LocalResponseNorm>("lrn", 3);
  h.add<nn::ReLU>("relu_after_lrn");
  h.add<nn::ReLU>("relu_after_relu");
  h.add<nn::Flatten>("flatten");
  h.add<nn::Linear>("fc", 0, 4);
  h.add<nn::ReLU>("relu_after_fc");
  h.add<nn::Dropout>("dropout_after_relu");
  h.add<nn::Linear>("out", 4, 2);
  h.plan(Shape{2, 3, 3}, 2, 2);
  const auto hrows = h.summary().layers;
  const std::vector<std::string> hexpected = {"", "", "", "", "view", "", "fused", "", ""};
  for (size_t i = 0; i < hrows.size(); ++i)
    EXPECT_EQ(hrows[i].memory_note, hexpected[i]) << hrows[i].name;
  EXPECT_TRUE(static_cast<const nn::Linear&>(h.layer(5)).fused_relu());
  EXPECT_FALSE(static_cast<const nn::Linear&>(h.layer(8)).fused_relu());
}

TEST(Graph, InPlaceLayersShareTheirInputsMemory) {
  std::mt19937_64 gen(test::test_seed() + 3);
  Context ctx;
  auto g = tanh_graph();
  g->build(ctx, kTanhInput, 2, kClasses);
  g->initialize(ctx, init::InitScheme::PyTorchDefault, 1);
  g->forward(ctx, test::random_tensor(Shape{2, 3, 7, 7}, gen), true, 0);
  EXPECT_EQ(g->layer_output(1).raw_data(), g->layer_output(0).raw_data());  // tanh
  EXPECT_NE(g->layer_output(2).raw_data(), g->layer_output(1).raw_data());  // avg pool
  EXPECT_EQ(g->layer_output(5).raw_data(), g->layer_output(4).raw_data());  // flatten
  EXPECT_EQ(g->layer_output(6).raw_data(), g->layer_output(5).raw_data());  // dropout
  EXPECT_EQ(g->layer_output(5).shape(), (Shape{2, 16}));
}

TEST(Graph, DropoutIsActiveInTrainingReproducibleAndTheIdentityInEvaluation) {
  std::mt19937_64 gen(test::test_seed() + 4);
  Context ctx;
  const auto make = [] {
    auto g = std::make_unique<nn::Graph>();
    g->add<nn::Linear>("fc1", 8, 64);
    g->add<nn::Dropout>("dropout", 0.5f);
    g->add<nn::Linear>("fc2", 64, 3);
    return g;
  };
  auto g = make();
  g->build(ctx, Shape{8}, 16, 3);
  g->initialize(ctx, init::InitScheme::PyTorchDefault, 9);
  const Tensor x = test::random_tensor(Shape{16, 8}, gen);

  // Evaluation: fc2(fc1(x)) by the ops themselves, nothing dropped.
  std::map<std::string, Tensor> p;
  for (const nn::NamedTensor& t : g->named_parameters()) p[t.name] = t.tensor;
  Tensor hidden = Tensor::empty(Shape{16, 64}), expected = Tensor::empty(Shape{16, 3});
  ops::linear_forward(ctx, x, p["fc1.weight"], &p["fc1.bias"], hidden);
  ops::linear_forward(ctx, hidden, p["fc2.weight"], &p["fc2.bias"], expected);
  const Tensor eval_copy = g->forward(ctx, x, /*training=*/false, 3).to(Device::cpu());
  EXPECT_TRUE(bitwise_equal(eval_copy, expected));

  // Training: about half the hidden units are zero, the others doubled; the logits are fc2 of
  // exactly that.
  const Tensor train3 = g->forward(ctx, x, /*training=*/true, 3).to(Device::cpu());
  const auto kept = g->layer_output(1).to_vector(), before = hidden.to_vector();
  int64_t zeros = 0;
  for (size_t i = 0; i < kept.size(); ++i) {
    if (kept[i] == 0.0f) {
      ++zeros;
    } else {
      EXPECT_EQ(kept[i], before[i] * 2.0f);
    }
  }
  EXPECT_GT(zeros, 16 * 64 * 4 / 10);
  EXPECT_LT(zeros, 16 * 64 * 6 / 10);
  Tensor dropped_logits = Tensor::empty(Shape{16, 3});
  ops::linear_forward(ctx, g->layer_output(1), p["fc2.weight"], &p["fc2.bias"], dropped_logits);
  EXPECT_TRUE(bitwise_equal(train3, dropped_logits));
  EXPECT_FALSE(bitwise_equal(train3, eval_copy));

  // The same step draws the same mask; another step or seed another one.
  EXPECT_TRUE(bitwise_equal(g->forward(ctx, x, true, 3), train3));
  EXPECT_FALSE(bitwise_equal(g->forward(ctx, x, true, 4), train3));
  g->set_seed(10);
  EXPECT_FALSE(bitwise_equal(g->forward(ctx, x, true, 3), train3));

  // A resumed run (a fresh graph with the run's seed and parameters) draws the same masks.
  auto resumed = make();
  resumed->build(ctx, Shape{8}, 16, 3);
  resumed->parameters().copy_from(g->parameters());
  resumed->set_seed(9);
  EXPECT_TRUE(bitwise_equal(resumed->forward(ctx, x, true, 3), train3));
}

TEST(Graph, DisableDropoutMakesTrainingPassesTheEvaluationPassOfAGraphWithoutDropout) {
  // kestrel batch --no-dropout: Dropout and DropPath at p = 0 in training, the rest untouched.
  std::mt19937_64 gen(test::test_seed() + 6);
  Context ctx;
  auto g = std::make_unique<nn::Graph>();
  g->add<nn::Linear>("fc1", 8, 32);
  g->add<nn::Dropout>("dropout", 0.5f);
  g->add<nn::DropPath>("drop_path", 0.5f);
  g->add<nn::Linear>("fc2", 32, 3);
  g->disable_dropout();
  g->build(ctx, Shape{8}, 16, 3);
  g->initialize(ctx, init::InitScheme::PyTorchDefault, 9);
  const Tensor x = test::random_tensor(Shape{16, 8}, gen);
  const Tensor eval = g->forward(ctx, x, /*training=*/false, 3).to(Device::cpu());
  for (int64_t step : {3, 4})
    EXPECT_TRUE(bitwise_equal(g->forward(ctx, x, /*training=*/true, step), eval)) << step;
  EXPECT_EQ(g->summary().layers[1].dropout, 0.0);
}

TEST(Graph, DropoutReadsTheStepFromDeviceMemoryWhenToldWhere) {
  // What CUDA Graph replay relies on: with set_step_on_device, the mask is that of the step
  // found in memory when the kernels run, whatever step forward() was given.
  std::mt19937_64 gen(test::test_seed() + 5);
  Context ctx;
  auto g = std::make_unique<nn::Graph>();
  g->add<nn::Linear>("fc1", 8, 64);
  g->add<nn::Dropout>("dropout", 0.5f);
  g->add<nn::Linear>("fc2", 64, 3);
  g->build(ctx, Shape{8}, 16, 3);
  g->initialize(ctx, init::InitScheme::PyTorchDefault, 9);
  const Tensor x = test::random_tensor(Shape{16, 8}, gen);
  const Tensor step3 = g->forward(ctx, x, true, 3).to(Device::cpu());
  const Tensor step4 = g->forward(ctx, x, true, 4).to(Device::cpu());

  Tensor step = Tensor::empty(Shape{1}, DType::I64);
  step.data<int64_t>()[0] = 3;
  g->set_step_on_device(step.data<int64_t>());
  EXPECT_TRUE(bitwise_equal(g->forward(ctx, x, true, 0), step3));
  step.data<int64_t>()[0] = 4;
  EXPECT_TRUE(bitwise_equal(g->forward(ctx, x, true, 0), step4));
  g->set_step_on_device(nullptr);
  EXPECT_TRUE(bitwise_equal(g->forward(ctx, x, true, 3), step3));
}

TEST(Graph, SmallerLastBatchRunsOnTheLeadingRows) {
  std::mt19937_64 gen(test::test_seed() + 5);
  Context ctx;
  auto full = tanh_graph(), small = tanh_graph();
  full->build(ctx, kTanhInput, 8, kClasses);
  small->build(ctx, kTanhInput, 5, kClasses);
  full->initialize(ctx, init::InitScheme::PyTorchDefault, 5);
  small->parameters().copy_from(full->parameters());
  small->set_seed(full->seed());
  const Tensor x8 = test::random_tensor(Shape{8, 3, 7, 7}, gen);
  const Tensor x5 = x8.slice(0, 5);
  const Tensor labels = test::random_labels(5, kClasses, gen);

  // Eight rows, then five on the same graph: the five match the graph built for five.
  const std::vector<float> logits8 = full->forward(ctx, x8, false, 0).to_vector();
  const Tensor logits5 = full->forward(ctx, x5, false, 0);
  ASSERT_EQ(logits5.shape(), (Shape{5, kClasses}));
  const std::vector<double> first_rows(logits8.begin(), logits8.begin() + 5 * kClasses);
  EXPECT_TRUE(test::all_close(first_rows, logits5, 1e-6, 1e-7));

  const float loss_full = loss_and_gradients(ctx, *full, x5, labels, 2);
  const float loss_small = loss_and_gradients(ctx, *small, x5, labels, 2);
  EXPECT_NEAR(loss_full, loss_small, 1e-6 * std::abs(loss_small));
  const auto g_small = small->gradients().to_vector();
  EXPECT_TRUE(test::all_close(std::vector<double>(g_small.begin(), g_small.end()),
                              full->gradients(), 1e-5, 1e-7));
}

TEST(Graph, AStepAllocatesNoNewMemory) {
  std::mt19937_64 gen(test::test_seed() + 6);
  Context ctx;
  for (auto* make : {&relu_graph, &tanh_graph}) {
    auto g = (*make)();
    const Shape input = make == &relu_graph ? kReluInput : kTanhInput;
    g->build(ctx, input, 16, kClasses);
    g->initialize(ctx, init::InitScheme::PyTorchDefault, 3);
    optim::Adam adam(optim::AdamOptions{});
    const Tensor x = test::random_tensor(Shape{16, input[0], input[1], input[2]}, gen);
    const Tensor labels = test::random_labels(16, kClasses, gen);
    const auto step = [&](int64_t t) {
      loss_and_gradients(ctx, *g, x, labels, t);
      adam.step(ctx, g->parameters(), g->gradients());
    };
    step(0);  // Adam allocates its moments on the first step
    const PoolStats s1 = host_pool().stats();
    step(1);
    const PoolStats s2 = host_pool().stats();
    step(2);
    const PoolStats s3 = host_pool().stats();
    // The ops draw scratch (im2col columns, per-row losses) from the pool; those requests are
    // served from its cache, the same number each step, and all returned.
    EXPECT_EQ(s2.raw_allocations, s1.raw_allocations);
    EXPECT_EQ(s3.raw_allocations, s1.raw_allocations);
    EXPECT_EQ(s3.allocations - s2.allocations, s2.allocations - s1.allocations);
    EXPECT_EQ(s3.in_use_bytes, s1.in_use_bytes);
  }
}

TEST(Graph, SameBitsWithOneOrTwoThreads) {
  std::mt19937_64 gen(test::test_seed() + 7);
  Context ctx;
  auto g = tanh_graph();
  g->build(ctx, kTanhInput, 6, kClasses);
  g->initialize(ctx, init::InitScheme::KaimingUniform, 11);
  const Tensor x = test::random_tensor(Shape{6, 3, 7, 7}, gen);
  const Tensor labels = test::random_labels(6, kClasses, gen);
  cpu::set_num_threads(1);
  const float loss1 = loss_and_gradients(ctx, *g, x, labels, 1);
  const Tensor grads1 = g->gradients().to(Device::cpu());
  cpu::set_num_threads(2);
  const float loss2 = loss_and_gradients(ctx, *g, x, labels, 1);
  cpu::set_num_threads(0);
  EXPECT_EQ(loss1, loss2);
  EXPECT_TRUE(bitwise_equal(grads1, g->gradients()));
}

TEST(Graph, ErrorsNameTheLayerAndTheShapes) {
  Context ctx;
  auto g = relu_graph();
  EXPECT_NE(error_of([&] {
              g->plan(Shape{1, 8, 8}, 2, kClasses);
            })
                .find("layer conv (Conv2d) on input [2, 1, 8, 8]: Conv2d: input has 1 channels "
                      "but the layer expects 3"),
            std::string::npos);
  EXPECT_NE(error_of([&] {
              g->plan(kReluInput, 2, 10);
            }).find("graph: the last layer fc2 (Linear) gives [2, 5], expected [2, 10]"),
            std::string::npos);
  EXPECT_NE(error_of([&] {
              g->plan(Shape{3, 1, 1}, 2, kClasses);
            }).find("layer pool (MaxPool2d)"),
            std::string::npos);
  EXPECT_NE(error_of([&] { g->add<nn::ReLU>("relu"); }).find("graph: two layers named 'relu'"),
            std::string::npos);

  g->build(ctx, kReluInput, 4, kClasses);
  EXPECT_NE(error_of([&] {
              g->backward(ctx, Tensor::zeros(Shape{4, kClasses}));
            }).find("graph: backward without a forward"),
            std::string::npos);
  EXPECT_NE(error_of([&] {
              g->forward(ctx, Tensor::zeros(Shape{5, 3, 8, 8}), false, 0);
            })
                .find("graph: images f32[5, 3, 8, 8] on cpu do not fit the graph's input "
                      "[1..4, 3, 8, 8]"),
            std::string::npos);
  EXPECT_NE(error_of([&] {
              g->forward(ctx, Tensor::zeros(Shape{2, 3, 8, 7}), false, 0);
            }).find("do not fit"),
            std::string::npos);
  g->forward(ctx, Tensor::zeros(Shape{2, 3, 8, 8}), false, 0);
  EXPECT_NE(error_of([&] {
              g->backward(ctx, Tensor::zeros(Shape{4, kClasses}));
            }).find("graph: dlogits f32[4, 5] on cpu must be f32[2, 5]"),
            std::string::npos);

  nn::Graph unbuilt;
  EXPECT_NE(error_of([&] { unbuilt.plan(kReluInput, 1, 1); }).find("graph: no layers"),
            std::string::npos);
  auto planned = relu_graph();
  planned->plan(kReluInput, 1, kClasses);
  EXPECT_NE(
      error_of([&] { planned->parameters(); }).find("graph: parameters before the graph was built"),
      std::string::npos);
}

}  // namespace
}  // namespace kestrel
