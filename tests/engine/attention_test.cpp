// multihead_self_attention and nn::MultiheadAttention against a float64 reference written here
// from torch.nn.MultiheadAttention's definition (batch_first, self-attention, need_weights
// False): qkv = x W_in^T + b_in; per head softmax(q k^T / sqrt(d)) over the keys, dropout on
// those weights in training, times v; heads concatenated; y = o W_out^T + b_out. Forward on
// several shapes (T = 1, odd T, 1/2/4 heads, batch 1); backward for x and every parameter
// against central differences of the reference, with and without dropout (the reference then
// applies the op's mask: the mask is the op's definition, the arithmetic the reference's own);
// the dropout mask's determinism, its survivors' scale and its absence in evaluation; 1 vs 2
// threads; errors; then the layer in graphs: names, shapes and torch's initialisation, a
// residual x -> MHA -> MHA -> Add whose gradients follow central differences (with and without
// dropout), backward-only blocks in the memory plan, and dropout masks that follow (seed, step).
#include "engine/nn/multihead_attention.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <functional>
#include <map>
#include <ostream>
#include <string>
#include <vector>

#include "engine/init/init.hpp"
#include "engine/nn/add.hpp"
#include "engine/nn/flatten.hpp"
#include "engine/nn/graph.hpp"
#include "engine/nn/memory_plan.hpp"
#include "engine/ops/attention.hpp"
#include "kernels/cpu/parallel.hpp"
#include "tests/engine/graph_test_support.hpp"
#include "tests/support/compare.hpp"
#include "tests/support/errors.hpp"
#include "tests/support/gradcheck.hpp"
#include "tests/support/poison.hpp"
#include "tests/support/random.hpp"

namespace kestrel {
namespace {

struct Dims {
  int64_t n, t, d, h;
  int64_t head() const { return d / h; }
};

void PrintTo(const Dims& s, std::ostream* os) {
  *os << "N" << s.n << "_T" << s.t << "_D" << s.d << "_H" << s.h;
}

// ---- the float64 reference ----

// The factor attention weight i (flat index over [N, H, T, T]) is multiplied by: 1 without
// dropout; 0 or 1 / (1 - p) with it.
using Mask = std::function<double(int64_t)>;

Mask no_dropout() {
  return [](int64_t) { return 1.0; };
}
Mask mask_of(const kernels::DropoutSpec& spec) {
  return [spec](int64_t i) {
    return kernels::dropout_keeps(spec.p, spec.seed, spec.stream, i) ? 1.0 / (1.0 - spec.p) : 0.0;
  };
}

// theta: in_proj_weight [3D, D], in_proj_bias [3D], out_proj.weight [D, D], out_proj.bias [D]
// packed in that (state_dict) order.
std::vector<double> attention_ref(const std::vector<double>& x, const std::vector<double>& theta,
                                  const Dims& s, const Mask& mask) {
  const int64_t n_tok = s.t, d = s.d, dh = s.head();
  const double* w_in = theta.data();
  const double* b_in = w_in + 3 * d * d;
  const double* w_out = b_in + 3 * d;
  const double* b_out = w_out + d * d;
  std::vector<double> y(static_cast<size_t>(s.n * n_tok * d));
  for (int64_t n = 0; n < s.n; ++n) {
    const double* xn = x.data() + n * n_tok * d;
    std::vector<double> qkv(static_cast<size_t>(n_tok * 3 * d));
    for (int64_t t = 0; t < n_tok; ++t)
      for (int64_t c = 0; c < 3 * d; ++c) {
        double v = b_in[c];
        for (int64_t k = 0; k < d; ++k) v += xn[t * d + k] * w_in[c * d + k];
        qkv[static_cast<size_t>(t * 3 * d + c)] = v;
      }
    const auto q = [&](int64_t t, int64_t c) { return qkv[static_cast<size_t>(t * 3 * d + c)]; };
    std::vector<double> o(static_cast<size_t>(n_tok * d), 0.0);
    for (int64_t h = 0; h < s.h; ++h)
      for (int64_t i = 0; i < n_tok; ++i) {
        std::vector<double> p(static_cast<size_t>(n_tok));
        double max = -INFINITY;
        for (int64_t j = 0; j < n_tok; ++j) {
          double dot = 0.0;
          for (int64_t e = 0; e < dh; ++e) dot += q(i, h * dh + e) * q(j, d + h * dh + e);
          p[static_cast<size_t>(j)] = dot / std::sqrt(static_cast<double>(dh));
          max = std::max(max, p[static_cast<size_t>(j)]);
        }
        double sum = 0.0;
        for (double& v : p) sum += (v = std::exp(v - max));
        for (int64_t j = 0; j < n_tok; ++j) {
          const double weight =
              p[static_cast<size_t>(j)] / sum * mask(((n * s.h + h) * n_tok + i) * n_tok + j);
          for (int64_t e = 0; e < dh; ++e)
            o[static_cast<size_t>(i * d + h * dh + e)] += weight * q(j, 2 * d + h * dh + e);
        }
      }
    for (int64_t t = 0; t < n_tok; ++t)
      for (int64_t c = 0; c < d; ++c) {
        double v = b_out[c];
        for (int64_t k = 0; k < d; ++k) v += o[static_cast<size_t>(t * d + k)] * w_out[c * d + k];
        y[static_cast<size_t>((n * n_tok + t) * d + c)] = v;
      }
  }
  return y;
}

// ---- the op on one shape ----

std::vector<double> concat(std::initializer_list<std::vector<double>> parts) {
  std::vector<double> out;
  for (const auto& p : parts) out.insert(out.end(), p.begin(), p.end());
  return out;
}

// Inputs drawn fresh; weights scaled so that the attention weights are far from uniform.
struct OpRun {
  Dims s;
  Tensor x, w_in, b_in, w_out, b_out, dy;
  ops::AttentionBuffers buffers;
  Tensor y, dx, dw_in, db_in, dw_out, db_out;

  OpRun(const Dims& dims, std::mt19937_64& gen) : s(dims) {
    x = test::random_tensor(Shape{s.n, s.t, s.d}, gen);
    w_in = test::random_tensor(Shape{3 * s.d, s.d}, gen, -0.8f, 0.8f);
    b_in = test::random_tensor(Shape{3 * s.d}, gen);
    w_out = test::random_tensor(Shape{s.d, s.d}, gen);
    b_out = test::random_tensor(Shape{s.d}, gen);
    dy = test::random_tensor(Shape{s.n, s.t, s.d}, gen);
    const ops::AttentionBufferShapes b = ops::attention_buffer_shapes(x.shape(), s.h);
    // Poisoned: a buffer element read before it is written turns the results into NaN.
    buffers = {test::poisoned(b.qkv),   test::poisoned(b.probs),  test::poisoned(b.dropped),
               test::poisoned(b.heads), test::poisoned(b.dheads), test::poisoned(b.dqkv)};
    y = test::poisoned(x.shape());
    dx = test::poisoned(x.shape());
    dw_in = test::poisoned(w_in.shape());
    db_in = test::poisoned(b_in.shape());
    dw_out = test::poisoned(w_out.shape());
    db_out = test::poisoned(b_out.shape());
  }

  ops::AttentionWeights weights() const { return {w_in, b_in, w_out, b_out}; }
  std::vector<double> theta() const {
    return concat({test::to_double(w_in), test::to_double(b_in), test::to_double(w_out),
                   test::to_double(b_out)});
  }
  std::vector<float> dtheta() const {
    std::vector<float> out;
    for (const Tensor* t : {&dw_in, &db_in, &dw_out, &db_out}) {
      const auto v = t->to_vector();
      out.insert(out.end(), v.begin(), v.end());
    }
    return out;
  }

  void forward(const Context& ctx, const ops::AttentionSpec& spec) {
    ops::multihead_self_attention_forward(ctx, x, weights(), buffers, y, spec);
  }
  void backward(const Context& ctx, const ops::AttentionSpec& spec) {
    ops::multihead_self_attention_backward(ctx, x, dy, weights(), buffers,
                                           {&dx, &dw_in, &db_in, &dw_out, &db_out}, spec);
  }
};

ops::AttentionSpec spec_for(const Dims& s, float p = 0.0f, bool training = true,
                            uint64_t seed = 17, uint64_t stream = 5) {
  ops::AttentionSpec spec;
  spec.num_heads = s.h;
  spec.training = training;
  spec.dropout = {p, seed, stream};
  return spec;
}

// The backward of one run against central differences of the reference, for x and theta.
void expect_gradients_match(const OpRun& r, const Mask& mask) {
  const std::vector<double> x = test::to_double(r.x), theta = r.theta(),
                            dy = test::to_double(r.dy);
  const auto of_x = [&](const std::vector<double>& v) { return attention_ref(v, theta, r.s, mask); };
  const auto of_theta = [&](const std::vector<double>& v) {
    return attention_ref(x, v, r.s, mask);
  };
  EXPECT_TRUE(test::all_close(test::numeric_gradient(of_x, x, dy), r.dx, 1e-4, 1e-5)) << "dx";
  EXPECT_TRUE(test::all_close(test::numeric_gradient(of_theta, theta, dy), r.dtheta(), 1e-4, 1e-5))
      << "parameters (in_proj_weight, in_proj_bias, out_proj.weight, out_proj.bias)";
}

class AttentionOp : public ::testing::TestWithParam<Dims> {};

TEST_P(AttentionOp, ForwardMatchesReference) {
  std::mt19937_64 gen(test::test_seed());
  Context ctx;
  OpRun r(GetParam(), gen);
  r.forward(ctx, spec_for(r.s));
  EXPECT_TRUE(test::all_close(attention_ref(test::to_double(r.x), r.theta(), r.s, no_dropout()),
                              r.y, 1e-5, 1e-5));
}

TEST_P(AttentionOp, BackwardMatchesCentralDifferences) {
  std::mt19937_64 gen(test::test_seed() + 1);
  Context ctx;
  OpRun r(GetParam(), gen);
  r.forward(ctx, spec_for(r.s));
  r.backward(ctx, spec_for(r.s));
  expect_gradients_match(r, no_dropout());
}

TEST_P(AttentionOp, DropoutForwardAndBackwardFollowTheMask) {
  std::mt19937_64 gen(test::test_seed() + 2);
  Context ctx;
  OpRun r(GetParam(), gen);
  const ops::AttentionSpec spec = spec_for(r.s, 0.3f, true, gen(), 9);
  r.forward(ctx, spec);
  EXPECT_TRUE(test::all_close(attention_ref(test::to_double(r.x), r.theta(), r.s,
                                            mask_of(spec.dropout)),
                              r.y, 1e-5, 1e-5));
  r.backward(ctx, spec);
  expect_gradients_match(r, mask_of(spec.dropout));
}

INSTANTIATE_TEST_SUITE_P(Shapes, AttentionOp,
                         ::testing::Values(Dims{2, 5, 8, 2}, Dims{1, 1, 4, 1}, Dims{3, 1, 8, 4},
                                           Dims{1, 7, 12, 4}, Dims{2, 4, 6, 1},
                                           Dims{1, 3, 8, 2}));

TEST(AttentionDropout, SurvivorsAreScaledAndAboutPAreDropped) {
  std::mt19937_64 gen(test::test_seed() + 3);
  Context ctx;
  OpRun r(Dims{2, 16, 8, 2}, gen);
  const float p = 0.25f;
  r.forward(ctx, spec_for(r.s, p, true, gen(), 3));
  const auto probs = r.buffers.probs.to_vector(), dropped = r.buffers.dropped.to_vector();
  int64_t zeros = 0;
  for (size_t i = 0; i < probs.size(); ++i) {
    if (dropped[i] == 0.0f) {
      ++zeros;
      continue;
    }
    ASSERT_EQ(dropped[i], probs[i] * (1.0f / (1.0f - p))) << "element " << i;
  }
  // 1024 weights: 256 expected dropped, standard deviation 13.9.
  const double expected = p * static_cast<double>(probs.size());
  EXPECT_NEAR(static_cast<double>(zeros), expected, 5 * std::sqrt(expected * (1 - p)));
}

TEST(AttentionDropout, MaskDependsOnSeedAndStreamOnly) {
  std::mt19937_64 gen(test::test_seed() + 4);
  Context ctx;
  OpRun r(Dims{2, 6, 8, 2}, gen);
  const uint64_t seed = gen();
  const auto y_for = [&](uint64_t s, uint64_t stream) {
    r.forward(ctx, spec_for(r.s, 0.5f, true, s, stream));
    return r.y.to_vector();
  };
  const auto first = y_for(seed, 1);
  EXPECT_TRUE(test::same_bits(first, y_for(seed, 1)));
  EXPECT_FALSE(test::same_bits(first, y_for(seed, 2)));
  EXPECT_FALSE(test::same_bits(first, y_for(seed + 1, 1)));
}

TEST(AttentionDropout, EvaluationIgnoresDropout) {
  std::mt19937_64 gen(test::test_seed() + 5);
  Context ctx;
  OpRun r(Dims{2, 5, 8, 2}, gen);
  r.forward(ctx, spec_for(r.s, 0.0f, true));
  const auto without = r.y.to_vector();
  r.forward(ctx, spec_for(r.s, 0.5f, false));
  EXPECT_TRUE(test::same_bits(without, r.y.to_vector()));
  EXPECT_TRUE(test::all_close(attention_ref(test::to_double(r.x), r.theta(), r.s, no_dropout()),
                              r.y, 1e-5, 1e-5));
  r.backward(ctx, spec_for(r.s, 0.5f, false));
  expect_gradients_match(r, no_dropout());
}

TEST(Attention, ThreadCountDoesNotChangeResults) {
  std::mt19937_64 gen(test::test_seed() + 6);
  Context ctx;
  // 16 (sample, head) products of 32 x 32 x 8: parallel over products; the projections tiled.
  const Dims s{4, 32, 32, 4};
  OpRun r(s, gen);
  const ops::AttentionSpec spec = spec_for(s, 0.2f, true, gen(), 2);
  const auto run = [&](int threads) {
    cpu::set_num_threads(threads);
    r.forward(ctx, spec);
    r.backward(ctx, spec);
    cpu::set_num_threads(0);
    std::vector<float> all = r.y.to_vector();
    for (const Tensor* t : {&r.dx, &r.dw_in, &r.db_in, &r.dw_out, &r.db_out,
                            &r.buffers.probs}) {
      const auto v = t->to_vector();
      all.insert(all.end(), v.begin(), v.end());
    }
    return all;
  };
  const auto one = run(1), two = run(2);
  EXPECT_TRUE(test::same_bits(one, two));
}

TEST(AttentionErrors, Op) {
  std::mt19937_64 gen(test::test_seed() + 7);
  Context ctx;
  OpRun r(Dims{2, 3, 8, 2}, gen);
  ops::AttentionSpec spec = spec_for(r.s);
  const Tensor flat = test::random_tensor(Shape{6, 8}, gen);
  test::expect_error(
      [&] {
        ops::multihead_self_attention_forward(ctx, flat, r.weights(), r.buffers, r.y, spec);
      },
      "input must be [N, T, D] (batch first), got [6, 8]");
  spec.num_heads = 3;
  test::expect_error([&] { r.forward(ctx, spec); },
                     "embedding dimension 8 is not divisible by num_heads 3");
  spec.num_heads = 2;
  ops::AttentionWeights w = r.weights();
  w.out_proj_weight = test::random_tensor(Shape{8, 7}, gen);
  test::expect_error(
      [&] { ops::multihead_self_attention_forward(ctx, r.x, w, r.buffers, r.y, spec); },
      "out_proj.weight");
  ops::AttentionBuffers small = r.buffers;
  small.probs = test::poisoned(Shape{2, 2, 3, 2});
  test::expect_error(
      [&] { ops::multihead_self_attention_forward(ctx, r.x, r.weights(), small, r.y, spec); },
      "probs");
  spec.dropout.p = 1.5f;
  test::expect_error([&] { r.forward(ctx, spec); }, "dropout must be in [0, 1], got 1.5");
}

TEST(AttentionErrors, Layer) {
  test::expect_error([] { nn::MultiheadAttention("blocks.0.attn", 10, 4); },
                     "MultiheadAttention 'blocks.0.attn': embed_dim 10 must be divisible by "
                     "num_heads 4");
  test::expect_error([] { nn::MultiheadAttention("attn", 8, 2, 1.0f); },
                     "MultiheadAttention 'attn': dropout must be in [0, 1), got 1");
  nn::MultiheadAttention layer("encoder.attn", 8, 2);
  test::expect_error([&] { layer.setup(Shape{4, 8}); },
                     "MultiheadAttention 'encoder.attn': input must be [N, T, D] (batch first), "
                     "got [4, 8]");
  test::expect_error([&] { layer.setup(Shape{4, 3, 6}); },
                     "MultiheadAttention 'encoder.attn': input [4, 3, 6] has embedding dimension "
                     "6, embed_dim is 8");
  // Through a graph: the layer named in the plan's error.
  nn::Graph g;
  g.add<nn::MultiheadAttention>("self_attention", 8, 2);
  g.add<nn::Flatten>("flatten");
  test::expect_error([&] { g.plan(Shape{5, 6}, 2, 30); }, "self_attention");
}

// ---- the layer in graphs ----

constexpr int64_t kTokens = 5, kDim = 8, kHeads = 2;

// x -> attn0 -> attn1 -> Add(attn0, attn1) -> flatten: attn0's output is read twice, so its
// gradient is the residual's sum, and attn1's dx is checked through attn0's parameters.
std::unique_ptr<nn::Graph> residual_graph(float dropout = 0.0f) {
  auto g = std::make_unique<nn::Graph>();
  const nn::ValueId a =
      g->node<nn::MultiheadAttention>({nn::Graph::kInput}, "attn0", kDim, kHeads, dropout);
  const nn::ValueId b = g->node<nn::MultiheadAttention>({a}, "attn1", kDim, kHeads, dropout);
  g->node<nn::Add>({a, b}, "add");
  g->add<nn::Flatten>("flatten");
  return g;
}

// Every parameter (biases too) replaced by fresh random values.
void randomise_parameters(nn::Graph& g, std::mt19937_64& gen) {
  for (nn::NamedTensor& p : g.named_parameters())
    p.tensor.copy_from(test::random_tensor(p.tensor.shape(), gen, -0.7f, 0.7f));
}

TEST(AttentionGraph, NamesShapesAndTorchInitialisation) {
  Context ctx;
  auto g = residual_graph();
  g->build(ctx, Shape{kTokens, kDim}, 3, kTokens * kDim);
  const std::vector<nn::ParamInfo>& infos = g->parameter_infos();
  ASSERT_EQ(infos.size(), 8u);
  const std::vector<std::pair<std::string, Shape>> expected{
      {"attn0.in_proj_weight", Shape{3 * kDim, kDim}},
      {"attn0.in_proj_bias", Shape{3 * kDim}},
      {"attn0.out_proj.weight", Shape{kDim, kDim}},
      {"attn0.out_proj.bias", Shape{kDim}}};
  for (size_t i = 0; i < expected.size(); ++i) {
    EXPECT_EQ(infos[i].name, expected[i].first);
    EXPECT_EQ(infos[i].shape, expected[i].second);
  }
  EXPECT_EQ(infos[4].name, "attn1.in_proj_weight");

  std::map<std::string, std::vector<float>> first;
  for (init::InitScheme scheme : {init::InitScheme::PyTorchDefault,
                                  init::InitScheme::KaimingNormal}) {
    g->initialize(ctx, scheme, 42);
    std::map<std::string, std::vector<float>> values;
    for (const nn::NamedTensor& p : g->named_parameters()) values[p.name] = p.tensor.to_vector();
    if (first.empty()) {
      first = values;
    } else {
      // torch's _reset_parameters does not depend on a scheme.
      for (const auto& [name, v] : values) EXPECT_TRUE(test::same_bits(first[name], v)) << name;
    }
  }
  const auto max_abs = [](const std::vector<float>& v) {
    float m = 0.0f;
    for (float x : v) m = std::max(m, std::abs(x));
    return m;
  };
  const auto all_zero = [](const std::vector<float>& v) {
    return std::all_of(v.begin(), v.end(), [](float x) { return x == 0.0f; });
  };
  for (const char* layer : {"attn0", "attn1"}) {
    const std::string l = layer;
    // xavier_uniform_: U(-b, b), b = sqrt(6 / (D + 3D)); nn.Linear: b = 1 / sqrt(D).
    const float xavier = static_cast<float>(std::sqrt(6.0 / (4.0 * kDim)));
    const float linear = static_cast<float>(1.0 / std::sqrt(static_cast<double>(kDim)));
    const auto& w_in = first[l + ".in_proj_weight"];
    const auto& w_out = first[l + ".out_proj.weight"];
    EXPECT_LE(max_abs(w_in), xavier);
    EXPECT_GT(max_abs(w_in), 0.8f * xavier);  // 192 draws reach the bound's last fifth
    EXPECT_LE(max_abs(w_out), linear);
    EXPECT_GT(max_abs(w_out), 0.8f * linear);
    EXPECT_TRUE(all_zero(first[l + ".in_proj_bias"]));
    EXPECT_TRUE(all_zero(first[l + ".out_proj.bias"]));
    // Two draws from different streams: the first D values are not one sequence rescaled.
    EXPECT_NE(w_in[0] / xavier, w_out[0] / linear);
  }
  EXPECT_FALSE(test::same_bits(first["attn0.in_proj_weight"], first["attn1.in_proj_weight"]));
}

// Two weights drawn by the scheme cannot be told apart by Graph::initialize: refused; attention's
// fixed starts are not scheme draws.
struct TwoSchemeWeights : nn::UnaryLayer {
  TwoSchemeWeights() : nn::UnaryLayer("twice") {}
  std::string_view type() const override { return "TwoSchemeWeights"; }
  Shape setup(const Shape& input) override { return input; }
  std::vector<nn::ParamSpec> params() const override {
    return {{"a", Shape{2, 2}, nn::ParamKind::Weight}, {"b", Shape{2, 2}, nn::ParamKind::Weight}};
  }
  void forward(const Context&, const Tensor&, Tensor&, const nn::StepInfo&) override {}
  void backward(const Context&, const Tensor&, const Tensor&, const Tensor&, Tensor*,
                const nn::StepInfo&) override {}
};

TEST(AttentionGraph, OnlyOneWeightMayFollowTheScheme) {
  nn::Graph g;
  g.add<TwoSchemeWeights>();
  test::expect_error([&] { g.plan(Shape{2}, 1, 2); },
                     "graph: layer twice starts 2 weights by the initialisation scheme");
}

class AttentionResidual : public ::testing::TestWithParam<float> {};

// With dropout the reference applies each layer's mask: seed, stream dropout_stream(step, node).
TEST_P(AttentionResidual, GradientsMatchCentralDifferences) {
  const float p = GetParam();
  std::mt19937_64 gen(test::test_seed() + 8);
  Context ctx;
  auto g = residual_graph(p);
  const int64_t batch = 2, step = 11;
  g->build(ctx, Shape{kTokens, kDim}, batch, kTokens * kDim);
  const uint64_t seed = gen();
  g->initialize(ctx, init::InitScheme::PyTorchDefault, seed);
  randomise_parameters(*g, gen);
  const Tensor x = test::random_tensor(Shape{batch, kTokens, kDim}, gen);
  const Tensor r = test::random_tensor(Shape{batch, kTokens * kDim}, gen);
  const Tensor y = g->forward(ctx, x, /*training=*/true, step);

  const Dims s{batch, kTokens, kDim, kHeads};
  const auto mask = [&](int layer) {
    return p > 0.0f ? mask_of({p, seed, kernels::dropout_stream(step, layer)}) : no_dropout();
  };
  const std::vector<double> xd = test::to_double(x);
  const size_t per_layer = test::packed_parameters(*g).size() / 2;
  const auto ref = [&](const std::vector<double>& theta) {
    const std::vector<double> t0(theta.begin(), theta.begin() + static_cast<long>(per_layer));
    const std::vector<double> t1(theta.begin() + static_cast<long>(per_layer), theta.end());
    const std::vector<double> a = attention_ref(xd, t0, s, mask(0));
    std::vector<double> b = attention_ref(a, t1, s, mask(1));
    for (size_t i = 0; i < b.size(); ++i) b[i] += a[i];
    return b;
  };
  const std::vector<double> theta = test::packed_parameters(*g);
  EXPECT_TRUE(test::all_close(ref(theta), y, 1e-5, 1e-5));
  Tensor dlogits = Tensor::empty(r.shape());
  dlogits.copy_from(r);
  g->backward(ctx, dlogits);
  EXPECT_TRUE(test::all_close(test::numeric_gradient(ref, theta, test::to_double(r)),
                              test::packed_gradients(*g), 1e-4, 1e-5));
}

INSTANTIATE_TEST_SUITE_P(Dropout, AttentionResidual, ::testing::Values(0.0f, 0.3f));

// Backward's blocks (and P's, without dropout) live during the layer's backward alone: planned
// over [bwd, bwd] (steps 7 and 6 for nodes 0 and 1 of 4), the rest from forward to backward.
TEST(AttentionGraph, BackwardOnlyBlocksLiveForTheBackwardAlone) {
  for (const float p : {0.0f, 0.3f}) {
    auto g = residual_graph(p);
    g->plan(Shape{kTokens, kDim}, 2, kTokens * kDim);
    for (const int node : {0, 1}) {
      const int fwd = node, bwd = 7 - node;
      int backward_only = 0, forward_to_backward = 0;
      for (const nn::MemoryBlock& b : g->memory_blocks()) {
        if (b.kind != nn::BlockKind::Saved) continue;
        backward_only += b.first == bwd && b.last == bwd;
        forward_to_backward += b.first == fwd && b.last == bwd;
      }
      EXPECT_EQ(backward_only, p > 0.0f ? 2 : 3) << "node " << node << ", p " << p;
      EXPECT_EQ(forward_to_backward, p > 0.0f ? 4 : 3) << "node " << node << ", p " << p;
    }
    EXPECT_EQ(nn::find_plan_conflict(g->memory_blocks(), g->memory_plan(),
                                     nn::Graph::kArenaAlignment),
              "");
  }
}

TEST(AttentionGraph, DropoutMasksFollowSeedAndStep) {
  std::mt19937_64 gen(test::test_seed() + 9);
  Context ctx;
  auto g = residual_graph(0.4f);
  g->build(ctx, Shape{kTokens, kDim}, 3, kTokens * kDim);
  g->initialize(ctx, init::InitScheme::PyTorchDefault, gen());
  randomise_parameters(*g, gen);
  const Tensor x = test::random_tensor(Shape{3, kTokens, kDim}, gen);
  const auto out = [&](bool training, int64_t step) {
    return g->forward(ctx, x, training, step).to_vector();
  };
  const auto step3 = out(true, 3);
  EXPECT_TRUE(test::same_bits(step3, out(true, 3)));
  EXPECT_FALSE(test::same_bits(step3, out(true, 4)));
  // Evaluation: the layers' arithmetic without dropout, the reference's.
  const std::vector<double> theta = test::packed_parameters(*g);
  const size_t half = theta.size() / 2;
  const Dims s{3, kTokens, kDim, kHeads};
  const std::vector<double> a =
      attention_ref(test::to_double(x), {theta.begin(), theta.begin() + static_cast<long>(half)},
                    s, no_dropout());
  std::vector<double> b =
      attention_ref(a, {theta.begin() + static_cast<long>(half), theta.end()}, s, no_dropout());
  for (size_t i = 0; i < b.size(); ++i) b[i] += a[i];
  EXPECT_TRUE(test::all_close(b, out(false, 3), 1e-5, 1e-5));
  // A smaller batch takes the leading rows of the saved blocks: the same first sample.
  const Tensor x1 = x.slice(0, 1);
  const auto one = g->forward(ctx, x1, false, 3).to_vector();
  EXPECT_TRUE(test::all_close(std::vector<double>(b.begin(), b.begin() + kTokens * kDim), one,
                              1e-5, 1e-5));
}

}  // namespace
}  // namespace kestrel
