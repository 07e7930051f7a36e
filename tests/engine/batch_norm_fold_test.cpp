// Eval-time batch norm folding (Graph::set_eval_folding): on random conv-BN-ReLU-pool-linear
// nets with random parameters and random running statistics, a chain and a branching one, the
// folded evaluation gives the logits of the unfused evaluation (the oracle: every layer of it
// is tested against float64 elsewhere) within rtol 1e-4 plus atol 1e-5 of the largest logit;
// which pairs fold is checked by name; training passes are unchanged bit for bit; the folded
// pass gives the same bits on 1 and 2 threads.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "engine/nn/activation.hpp"
#include "engine/nn/add.hpp"
#include "engine/nn/batch_norm.hpp"
#include "engine/nn/conv2d.hpp"
#include "engine/nn/flatten.hpp"
#include "engine/nn/graph.hpp"
#include "engine/nn/linear.hpp"
#include "engine/nn/pooling.hpp"
#include "kernels/cpu/parallel.hpp"
#include "tests/support/random.hpp"

namespace kestrel::nn {
namespace {

const Shape kInput{3, 12, 12};
constexpr int64_t kBatch = 6, kClasses = 10;

// conv-BN-ReLU-pool, conv without bias-BN without affine-ReLU, pool, linear.
std::unique_ptr<Graph> chain_net() {
  auto g = std::make_unique<Graph>();
  g->add<Conv2d>("conv1", 3, 8, 3, Conv2dOptions{.padding = 1});
  g->add<BatchNorm2d>("bn1", 8);
  g->add<ReLU>("relu1");
  g->add<MaxPool2d>("pool1", 2);
  g->add<Conv2d>("conv2", 8, 16, 3, Conv2dOptions{.padding = 1, .bias = false});
  g->add<BatchNorm2d>("bn2", 16, BatchNormOptions{.eps = 1e-3, .affine = false});
  g->add<ReLU>("relu2");
  g->add<AdaptiveAvgPool2d>("pool2", 2, 2);
  g->add<Flatten>("flatten");
  g->add<Linear>("fc", 64, kClasses);
  return g;
}

// A stem, then two branches added: conv-BN (folds) and a convolution read by its batch norm
// and by the add as well (two readers: does not fold), then a grouped conv-BN before the head.
std::unique_ptr<Graph> branching_net() {
  auto g = std::make_unique<Graph>();
  g->add<Conv2d>("stem", 3, 8, 3, Conv2dOptions{.padding = 1});
  g->add<BatchNorm2d>("stem_bn", 8);
  const ValueId s = g->node<ReLU>({g->last_value()}, "stem_relu");
  g->node<Conv2d>({s}, "a.conv", 8, 8, 3, Conv2dOptions{.padding = 1});
  const ValueId a = g->node<BatchNorm2d>({g->last_value()}, "a.bn", 8);
  const ValueId b = g->node<Conv2d>({s}, "b.conv", 8, 8, 1);
  const ValueId bn = g->node<BatchNorm2d>({b}, "b.bn", 8);
  g->node<Add>({a, bn, b}, "add");
  g->add<ReLU>("add_relu");
  g->add<Conv2d>("grouped", 8, 8, 3, Conv2dOptions{.stride = 2, .groups = 2});
  g->add<BatchNorm2d>("grouped_bn", 8);
  g->add<AdaptiveAvgPool2d>("pool", 2, 2);
  g->add<Flatten>("flatten");
  g->add<Linear>("fc", 32, kClasses);
  return g;
}

// Random parameters (batch norm's weight near 1) and running statistics.
void randomize(Graph& g, std::mt19937_64& gen) {
  std::uniform_real_distribution<float> u(-0.5f, 0.5f), pos(0.5f, 2.0f);
  for (auto& p : g.named_parameters()) {
    float* d = p.tensor.data<float>();
    const bool bn_weight = p.name.find("bn") != std::string::npos && p.name.ends_with("weight");
    for (int64_t i = 0; i < p.tensor.numel(); ++i) d[i] = bn_weight ? pos(gen) : u(gen);
  }
  for (auto& s : g.named_state()) {
    if (s.tensor.dtype() != DType::F32) continue;
    float* d = s.tensor.data<float>();
    const bool var = s.name.ends_with("running_var");
    for (int64_t i = 0; i < s.tensor.numel(); ++i) d[i] = var ? pos(gen) : u(gen);
  }
}

struct Pair {
  std::unique_ptr<Graph> folded, plain;
};

Pair build_pair(std::unique_ptr<Graph> (*make)(), uint64_t seed) {
  std::mt19937_64 gen(seed);
  Context ctx;
  Pair p{make(), make()};
  p.plain->set_eval_folding(false);
  p.folded->build(ctx, kInput, kBatch, kClasses);
  p.plain->build(ctx, kInput, kBatch, kClasses);
  randomize(*p.folded, gen);
  p.plain->parameters().copy_from(p.folded->parameters());
  p.plain->state().copy_from(p.folded->state());
  return p;
}

std::vector<std::string> folded_names(const Graph& g) {
  std::vector<std::string> out;
  for (const auto& [c, b] : g.folded_pairs())
    out.push_back(g.layer(c).name() + "+" + g.layer(b).name());
  return out;
}

void expect_close_logits(const Tensor& folded, const Tensor& plain) {
  const std::vector<float> f = folded.to_vector(), p = plain.to_vector();
  ASSERT_EQ(f.size(), p.size());
  float largest = 0.0f;
  for (float v : p) largest = std::max(largest, std::fabs(v));
  ASSERT_GT(largest, 0.1f);  // logits of some size: the tolerance below is not vacuous
  for (size_t i = 0; i < f.size(); ++i)
    EXPECT_NEAR(f[i], p[i], 1e-4 * std::fabs(p[i]) + 1e-5 * largest) << "logit " << i;
}

class FoldTest : public ::testing::TestWithParam<int> {};

std::unique_ptr<Graph> (*net(int which))() { return which == 0 ? chain_net : branching_net; }

TEST(BatchNormFold, FoldsExactlyTheConvolutionsWhoseOnlyReaderIsABatchNorm) {
  Pair chain = build_pair(chain_net, test::test_seed());
  EXPECT_EQ(folded_names(*chain.folded), (std::vector<std::string>{"conv1+bn1", "conv2+bn2"}));
  EXPECT_TRUE(chain.plain->folded_pairs().empty());
  Pair branching = build_pair(branching_net, test::test_seed());
  EXPECT_EQ(folded_names(*branching.folded),
            (std::vector<std::string>{"stem+stem_bn", "a.conv+a.bn", "grouped+grouped_bn"}));
}

TEST_P(FoldTest, FoldedEvaluationMatchesTheUnfusedOne) {
  Pair p = build_pair(net(GetParam()), test::test_seed() + 1);
  std::mt19937_64 gen(test::test_seed() + 2);
  Context ctx;
  for (int64_t rows : {kBatch, int64_t{1}}) {  // a full and a smaller batch
    const Tensor images = test::random_tensor(Shape{rows, 3, 12, 12}, gen);
    const Tensor plain = p.plain->forward(ctx, images, /*training=*/false, 0).to(Device::cpu());
    const Tensor folded = p.folded->forward(ctx, images, false, 0);
    expect_close_logits(folded, plain);
  }
}

TEST_P(FoldTest, TrainingPassesAreUnchanged) {
  Pair p = build_pair(net(GetParam()), test::test_seed() + 3);
  std::mt19937_64 gen(test::test_seed() + 4);
  Context ctx;
  const Tensor images = test::random_tensor(Shape{kBatch, 3, 12, 12}, gen);
  const std::vector<float> plain = p.plain->forward(ctx, images, /*training=*/true, 0).to_vector();
  const std::vector<float> folded = p.folded->forward(ctx, images, true, 0).to_vector();
  EXPECT_EQ(std::memcmp(plain.data(), folded.data(), plain.size() * 4), 0);
  // The running statistics moved the same way too.
  ASSERT_EQ(p.plain->state().nbytes(), p.folded->state().nbytes());
  EXPECT_EQ(std::memcmp(p.plain->state().raw_data(), p.folded->state().raw_data(),
                        p.plain->state().nbytes()),
            0);
}

TEST_P(FoldTest, OneAndTwoThreadsGiveIdenticalBits) {
  std::vector<float> out[2];
  for (int threads = 1; threads <= 2; ++threads) {
    cpu::set_num_threads(threads);
    Pair p = build_pair(net(GetParam()), test::test_seed() + 5);
    std::mt19937_64 gen(test::test_seed() + 6);
    Context ctx;
    out[threads - 1] =
        p.folded->forward(ctx, test::random_tensor(Shape{kBatch, 3, 12, 12}, gen), false, 0)
            .to_vector();
  }
  cpu::set_num_threads(0);
  EXPECT_EQ(std::memcmp(out[0].data(), out[1].data(), out[0].size() * 4), 0);
}

INSTANTIATE_TEST_SUITE_P(Nets, FoldTest, ::testing::Values(0, 1), [](const auto& test_info) {
  return test_info.param == 0 ? "Chain" : "Branching";
});

}  // namespace
}  // namespace kestrel::nn
