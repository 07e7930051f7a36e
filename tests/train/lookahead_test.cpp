// train::Lookahead: d_n = decay^k (n / T)^3; pulls every k-th step only, over the trainable
// parameters and the f32 buffers (running statistics), against a float64 reference of
// slow <- slow + (1 - d_n) (fast - slow), fast <- slow; finish() leaves the model on the slow
// weights; the halt flag skips a pull; frozen parameters and integer buffers are left out.
#include "engine/train/lookahead.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <string>
#include <vector>

#include "engine/init/init.hpp"
#include "engine/nn/batch_norm.hpp"
#include "engine/nn/conv2d.hpp"
#include "engine/nn/flatten.hpp"
#include "engine/nn/linear.hpp"
#include "tests/support/compare.hpp"
#include "tests/support/errors.hpp"
#include "tests/support/random.hpp"

namespace kestrel::train {
namespace {

std::unique_ptr<nn::Graph> small_net(const Context& ctx) {
  auto g = std::make_unique<nn::Graph>();
  g->add<nn::Conv2d>("conv", 1, 4, 3);
  g->add<nn::BatchNorm2d>("bn", 4);
  g->add<nn::Flatten>("flatten");
  g->add<nn::Linear>("fc", 0, 3);
  g->freeze("bn.weight");
  g->plan(Shape{1, 6, 6}, 2, 3);
  g->build(ctx, 2);
  g->initialize(ctx, init::InitScheme::PyTorchDefault, 7);
  return g;
}

// The tensors the lookahead covers, as live views: the flat parameters, then the f32 buffers.
std::vector<Tensor> covered(nn::Graph& g) {
  std::vector<Tensor> out{g.parameters()};
  const auto state = g.named_state();
  for (size_t i = 0; i < state.size(); ++i)
    if (state[i].name == "bn.running_mean" || state[i].name == "bn.running_var")
      out.push_back(state[i].tensor);
  return out;
}

TEST(Lookahead, DecayRampsUpCubically) {
  EXPECT_DOUBLE_EQ(Lookahead::decay_at(0.95, 5, 0, 480), 0.0);
  EXPECT_NEAR(Lookahead::decay_at(0.95, 5, 240, 480), std::pow(0.95, 5) / 8, 1e-15);
  EXPECT_NEAR(Lookahead::decay_at(0.95, 5, 480, 480), std::pow(0.95, 5), 1e-15);
  test::expect_error([] { Lookahead(1.0, 5); }, "--lookahead must be in (0, 1)");
  test::expect_error([] { Lookahead(0.9, 0); }, "--lookahead-every must be at least 1");
}

TEST(Lookahead, PullsEveryKStepsAsTheFloat64Reference) {
  std::mt19937_64 gen(test::test_seed());
  Context ctx;
  auto g = small_net(ctx);
  const std::vector<float> frozen = g->named_state()[0].tensor.to_vector();  // bn.weight
  Lookahead la(0.9, 3);
  la.start(ctx, *g);
  std::vector<std::vector<double>> slow;
  for (const Tensor& t : covered(*g)) slow.push_back(test::to_double(t));
  const int64_t total = 12;
  for (int64_t n = 1; n <= total; ++n) {
    // A "step": every covered tensor moves to new random values.
    for (Tensor& t : covered(*g)) t.copy_from(test::random_tensor(t.shape(), gen));
    std::vector<std::vector<double>> fast;
    for (const Tensor& t : covered(*g)) fast.push_back(test::to_double(t));
    la.after_step(ctx, *g, n, total, nullptr);
    if (n % 3 == 0) {
      const double w = 1.0 - Lookahead::decay_at(0.9, 3, n, total);
      for (size_t t = 0; t < slow.size(); ++t)
        for (size_t i = 0; i < slow[t].size(); ++i) {
          slow[t][i] += w * (fast[t][i] - slow[t][i]);
          fast[t][i] = slow[t][i];
        }
    }
    const std::vector<Tensor> live = covered(*g);
    for (size_t t = 0; t < live.size(); ++t) {
      SCOPED_TRACE("step " + std::to_string(n) + ", tensor " + std::to_string(t));
      EXPECT_TRUE(test::all_close(fast[t], live[t], 1e-6, 1e-6));
    }
  }
  // The slow copy, by name: the parameters and the two f32 buffers, not bn.weight (frozen)
  // nor num_batches_tracked (i64).
  const auto named = la.slow_tensors(*g);
  std::vector<std::string> names;
  for (const auto& t : named) names.push_back(t.name);
  EXPECT_EQ(names, (std::vector<std::string>{"conv.weight", "conv.bias", "bn.bias", "fc.weight",
                                             "fc.bias", "bn.running_mean", "bn.running_var"}));
  EXPECT_TRUE(test::all_close(slow[2], named[6].tensor, 1e-6, 1e-6));
  EXPECT_EQ(g->named_state()[0].tensor.to_vector(), frozen);

  // After a step off the pull grid the model has moved on; finish() brings the slow weights back.
  for (Tensor& t : covered(*g)) t.copy_from(test::random_tensor(t.shape(), gen));
  la.finish(ctx, *g);
  const std::vector<Tensor> live = covered(*g);
  for (size_t t = 0; t < live.size(); ++t)
    EXPECT_TRUE(test::all_close(slow[t], live[t], 1e-6, 1e-6)) << "tensor " << t;
}

TEST(Lookahead, ASetHaltFlagSkipsThePull) {
  std::mt19937_64 gen(test::test_seed() + 1);
  Context ctx;
  auto g = small_net(ctx);
  Lookahead la(0.9, 1);
  la.start(ctx, *g);
  Tensor& params = g->parameters();
  params.copy_from(test::random_tensor(params.shape(), gen));
  const std::vector<float> before = params.to_vector();
  const int32_t halted = 1;
  la.after_step(ctx, *g, 5, 10, &halted);
  EXPECT_EQ(params.to_vector(), before);
  const int32_t running = 0;
  la.after_step(ctx, *g, 5, 10, &running);
  EXPECT_NE(params.to_vector(), before);
}

}  // namespace
}  // namespace kestrel::train
