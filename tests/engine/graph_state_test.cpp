// Non-trainable state in the graph: buffers (a probe layer here that keeps batch norm's kind
// of state: an f32 running mean updated by training passes and an i64 count) are named as in a
// PyTorch state_dict, start at the layer's values, change only in training passes, stay out of
// the parameters, gradients and optimizer, and travel through checkpoints; frozen parameters
// move to the state store, get no gradient and no update, and count as non-trainable.
#include <gtest/gtest.h>

#include <thread>

#include "engine/checkpoint/checkpoint.hpp"
#include "engine/nn/activation.hpp"
#include "engine/nn/conv2d.hpp"
#include "engine/nn/flatten.hpp"
#include "engine/nn/graph.hpp"
#include "engine/nn/linear.hpp"
#include "engine/optim/adam.hpp"
#include "engine/train/data_parallel.hpp"
#include "tests/engine/graph_test_support.hpp"
#include "tests/support/random.hpp"
#include "tests/support/scratch_dir.hpp"
#include "tests/support/thread_communicator.hpp"

namespace kestrel {
namespace {

using test::bitwise_equal;
using test::error_of;
using test::loss_and_gradients;

// The identity, keeping per channel a running mean of its training inputs (momentum 0.1, from
// 0.5) and how many training batches it saw: the shape of batch norm's state, on the host.
class MeanProbe final : public nn::UnaryLayer {
 public:
  using UnaryLayer::UnaryLayer;
  static constexpr float kInitialMean = 0.5f;

  std::string_view type() const override { return "MeanProbe"; }
  Shape setup(const Shape& input) override {
    channels_ = input[1];
    return input;
  }
  std::vector<nn::StateSpec> state() const override {
    return {{"running_mean", Shape{channels_}, DType::F32},
            {"num_batches_tracked", Shape{}, DType::I64}};
  }
  void bind_state(std::span<const Tensor> state) override {
    mean_ = state[0];
    count_ = state[1];
  }
  void reset_state(const Context& ctx) override {
    (void)ctx;
    mean_.fill(kInitialMean);
    count_.data<int64_t>()[0] = 0;
  }
  void forward(const Context& ctx, const Tensor& x, Tensor& y, const nn::StepInfo& step) override {
    (void)ctx;
    y.copy_from(x);
    if (!step.training) return;
    const int64_t n = x.dim(0), per = x.numel() / (n * channels_);
    const float* in = x.data<float>();
    for (int64_t c = 0; c < channels_; ++c) {
      double sum = 0.0;
      for (int64_t i = 0; i < n; ++i)
        for (int64_t k = 0; k < per; ++k) sum += in[(i * channels_ + c) * per + k];
      float& m = mean_.data<float>()[c];
      m = 0.9f * m + 0.1f * static_cast<float>(sum / static_cast<double>(n * per));
    }
    count_.data<int64_t>()[0] += 1;
  }
  void backward(const Context& ctx, const Tensor& x, const Tensor& y, const Tensor& dy, Tensor* dx,
                const nn::StepInfo& step) override {
    (void)ctx;
    (void)x;
    (void)y;
    (void)step;
    if (dx != nullptr) dx->copy_from(dy);
  }
  bool backward_needs_input() const override { return false; }

 private:
  int64_t channels_ = 0;
  Tensor mean_, count_;
};

std::unique_ptr<nn::Graph> probe_graph() {
  auto g = std::make_unique<nn::Graph>();
  g->add<nn::Conv2d>("conv", 2, 3, 3, nn::Conv2dOptions{.padding = 1});
  g->add<MeanProbe>("probe");
  g->add<nn::ReLU>("relu");
  g->add<nn::Flatten>("flatten");
  g->add<nn::Linear>("fc", 48, 3);
  return g;
}
const Shape kInput{2, 4, 4};

std::vector<float> floats(const Tensor& t) { return t.to_vector(); }

TEST(GraphState, BuffersAreNamedTypedAndStartAtTheLayersValues) {
  Context ctx;
  auto g = probe_graph();
  g->build(ctx, kInput, 4, 3);
  const auto& infos = g->state_infos();
  ASSERT_EQ(infos.size(), 2u);
  EXPECT_EQ(infos[0].name, "probe.running_mean");
  EXPECT_EQ(infos[0].dtype, DType::F32);
  EXPECT_EQ(infos[0].shape, Shape{3});
  EXPECT_EQ(infos[1].name, "probe.num_batches_tracked");
  EXPECT_EQ(infos[1].dtype, DType::I64);
  EXPECT_EQ(infos[1].shape, Shape{});
  const auto state = g->named_state();
  EXPECT_EQ(floats(state[0].tensor), std::vector<float>(3, MeanProbe::kInitialMean));
  EXPECT_EQ(state[1].tensor.data<int64_t>()[0], 0);
  // Not parameters: neither counted nor in the flat buffers; the summary lists them apart.
  EXPECT_EQ(g->parameter_count(), 3 * 2 * 9 + 3 + 48 * 3 + 3);
  EXPECT_EQ(g->named_parameters().size(), 4u);
  const nn::GraphSummary s = g->summary();
  EXPECT_EQ(s.buffer_elements, 4);
  EXPECT_EQ(s.frozen_params, 0);
  const std::string text = nn::format_summary(s, "probe");
  EXPECT_NE(text.find("Buffers (running statistics): 4\n"), std::string::npos) << text;
  EXPECT_NE(text.find("Non-trainable params: 0\n"), std::string::npos);
  // The state dict is both, parameters first.
  const auto all = g->state_dict();
  ASSERT_EQ(all.size(), 6u);
  EXPECT_EQ(all[4].name, "probe.running_mean");
}

TEST(GraphState, TrainingPassesUpdateTheStateAndEvaluationDoesNot) {
  std::mt19937_64 gen(test::test_seed() + 20);
  Context ctx;
  auto g = probe_graph();
  g->build(ctx, kInput, 4, 3);
  g->initialize(ctx, init::InitScheme::PyTorchDefault, 1);
  const Tensor x = test::random_tensor(Shape{4, 2, 4, 4}, gen);
  const Tensor labels = test::random_labels(4, 3, gen);
  optim::Adam adam(optim::AdamOptions::adamw(1e-2f, 0.1f));
  loss_and_gradients(ctx, *g, x, labels, 0);
  adam.step(ctx, g->parameters(), g->gradients());
  const Tensor after_training = g->state().to(Device::cpu());
  EXPECT_EQ(g->named_state()[1].tensor.data<int64_t>()[0], 1);
  EXPECT_NE(floats(g->named_state()[0].tensor), std::vector<float>(3, MeanProbe::kInitialMean));
  g->forward(ctx, x, /*training=*/false, 1);
  EXPECT_TRUE(bitwise_equal(g->state(), after_training));
  // Re-initialising the parameters keeps the state.
  g->initialize(ctx, init::InitScheme::PyTorchDefault, 2);
  EXPECT_TRUE(bitwise_equal(g->state(), after_training));
}

TEST(GraphState, CheckpointsCarryTheStateAndRefuseAFileWithoutIt) {
  std::mt19937_64 gen(test::test_seed() + 21);
  Context ctx;
  test::ScratchDir dir;
  auto g = probe_graph();
  g->build(ctx, kInput, 4, 3);
  g->initialize(ctx, init::InitScheme::PyTorchDefault, 1);
  loss_and_gradients(ctx, *g, test::random_tensor(Shape{4, 2, 4, 4}, gen),
                     test::random_labels(4, 3, gen), 0);
  const auto named = [](const std::vector<nn::NamedTensor>& v) {
    checkpoint::NamedTensors out;
    for (const auto& t : v) out.emplace_back(t.name, t.tensor);
    return out;
  };
  const std::string path = dir.file("probe.safetensors");
  checkpoint::save_checkpoint(path, named(g->named_parameters()), nullptr, {},
                              named(g->named_state()));

  auto fresh = probe_graph();
  fresh->build(ctx, kInput, 4, 3);
  const checkpoint::LoadedCheckpoint loaded = checkpoint::load_checkpoint(path);
  checkpoint::restore_parameters(loaded, named(fresh->state_dict()), "");
  EXPECT_TRUE(bitwise_equal(fresh->state(), g->state()));
  EXPECT_TRUE(bitwise_equal(fresh->parameters(), g->parameters()));

  // A model with state refuses weights saved without it, naming what is missing.
  const std::string weights = dir.file("weights.safetensors");
  checkpoint::save_checkpoint(weights, named(g->named_parameters()), nullptr, {});
  EXPECT_NE(error_of([&] {
              checkpoint::restore_parameters(checkpoint::load_checkpoint(weights),
                                             named(fresh->state_dict()), "probe");
            }).find("missing probe.running_mean, probe.num_batches_tracked (all needed)"),
            std::string::npos);
}

TEST(GraphState, FrozenParametersGetNoGradientNoUpdateAndCountAsNonTrainable) {
  std::mt19937_64 gen(test::test_seed() + 22);
  Context ctx;
  auto trained = probe_graph(), frozen = probe_graph();
  frozen->freeze("conv.weight");
  trained->build(ctx, kInput, 4, 3);
  frozen->build(ctx, kInput, 4, 3);
  trained->initialize(ctx, init::InitScheme::KaimingUniform, 7);
  frozen->initialize(ctx, init::InitScheme::KaimingUniform, 7);

  // Initialised alike (the weight's stream is its node's), stored apart.
  const auto state = frozen->named_state();
  ASSERT_EQ(state.front().name, "conv.weight");
  EXPECT_TRUE(frozen->state_infos().front().frozen_parameter);
  EXPECT_TRUE(bitwise_equal(state.front().tensor, trained->named_parameters().front().tensor));
  EXPECT_EQ(frozen->parameter_count(), trained->parameter_count());
  EXPECT_EQ(frozen->trainable_parameter_count(), trained->parameter_count() - 54);
  EXPECT_EQ(frozen->parameter_infos().front().name, "conv.bias");
  const nn::GraphSummary s = frozen->summary();
  EXPECT_EQ(s.frozen_params, 54);
  EXPECT_EQ(s.layers[0].frozen_params, 54);
  EXPECT_NE(nn::format_summary(s, "frozen").find("Non-trainable params: 54\n"), std::string::npos);

  // The other gradients are those of the unfrozen graph, bit for bit; the weight stays put.
  const Tensor x = test::random_tensor(Shape{4, 2, 4, 4}, gen);
  const Tensor labels = test::random_labels(4, 3, gen);
  const Tensor weight_before = state.front().tensor.to(Device::cpu());
  loss_and_gradients(ctx, *trained, x, labels, 0);
  loss_and_gradients(ctx, *frozen, x, labels, 0);
  const auto trained_grads = trained->named_gradients(), frozen_grads = frozen->named_gradients();
  ASSERT_EQ(frozen_grads.size() + 1, trained_grads.size());
  for (size_t i = 0; i < frozen_grads.size(); ++i) {
    EXPECT_EQ(frozen_grads[i].name, trained_grads[i + 1].name);
    EXPECT_TRUE(bitwise_equal(frozen_grads[i].tensor, trained_grads[i + 1].tensor))
        << frozen_grads[i].name;
  }
  optim::Adam adam(optim::AdamOptions::adamw(1e-2f, 0.5f));
  adam.step(ctx, frozen->parameters(), frozen->gradients());
  EXPECT_TRUE(bitwise_equal(frozen->named_state().front().tensor, weight_before));

  auto unknown = probe_graph();
  unknown->freeze("nope.weight");
  EXPECT_NE(error_of([&] {
              unknown->plan(kInput, 2, 3);
            }).find("graph: cannot freeze nope.weight: no layer has that parameter"),
            std::string::npos);
}

TEST(GraphState, DataParallelRanksTakeRankZerosState) {
  // Each rank's training passes move its own statistics; broadcast_model_state gives every
  // rank rank 0's (what the trainer does before each evaluation).
  std::mt19937_64 gen(test::test_seed() + 23);
  constexpr int kRanks = 3;
  std::vector<Tensor> inputs;
  for (int r = 0; r < kRanks; ++r) inputs.push_back(test::random_tensor(Shape{4, 2, 4, 4}, gen));
  test::ThreadGroup group(kRanks);
  std::vector<Tensor> before(kRanks), after(kRanks);
  std::vector<std::thread> threads;
  for (int r = 0; r < kRanks; ++r)
    threads.emplace_back([&, r] {
      test::ThreadCommunicator comm(group, r);
      Context ctx;
      auto g = probe_graph();
      g->build(ctx, kInput, 4, 3);
      g->initialize(ctx, init::InitScheme::PyTorchDefault, 1);
      g->forward(ctx, inputs[static_cast<size_t>(r)], /*training=*/true, 0);
      before[static_cast<size_t>(r)] = g->state().to(Device::cpu());
      train::broadcast_model_state(comm, *g);
      after[static_cast<size_t>(r)] = g->state().to(Device::cpu());
    });
  for (auto& t : threads) t.join();
  for (int r = 1; r < kRanks; ++r) {
    EXPECT_FALSE(bitwise_equal(before[static_cast<size_t>(r)], before[0])) << "rank " << r;
    EXPECT_TRUE(bitwise_equal(after[static_cast<size_t>(r)], before[0])) << "rank " << r;
  }
  EXPECT_TRUE(bitwise_equal(after[0], before[0]));
}

}  // namespace
}  // namespace kestrel
