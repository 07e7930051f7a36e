// The ViT token layers in a whole graph: a one-block, attention-free ViT-like chain
// (conv_proj patch embedding -> PatchTokens -> ClassToken -> PositionEmbedding -> LayerNorm ->
// Linear -> GELU -> Linear -> DropPath, + residual Add -> LayerNorm -> SelectToken -> Linear)
// named as torchvision.models.VisionTransformer's state_dict. Checked: the parameter names,
// in-place decisions, every parameter gradient of one training step (a drop-path mask with kept
// and dropped samples) against central differences of a float64 reference of the loss written
// here, evaluation, and 1 vs 2 threads bit for bit.
#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

#include "engine/nn/activation.hpp"
#include "engine/nn/add.hpp"
#include "engine/nn/conv2d.hpp"
#include "engine/nn/drop_path.hpp"
#include "engine/nn/graph.hpp"
#include "engine/nn/layer_norm.hpp"
#include "engine/nn/linear.hpp"
#include "engine/nn/tokens.hpp"
#include "kernels/common/dropout.hpp"
#include "kernels/common/philox.hpp"
#include "kernels/cpu/parallel.hpp"
#include "tests/engine/graph_test_support.hpp"
#include "tests/support/gradcheck.hpp"
#include "tests/support/random.hpp"

namespace kestrel {
namespace {

using test::Act;
using Params = std::map<std::string, size_t>;

constexpr int64_t kClasses = 3, kHidden = 6, kMlp = 10, kPatch = 2, kBatch = 4;
const Shape kImage{3, 4, 6};            // 2 x 3 patches of 2 x 2
constexpr int64_t kTokens = 2 * 3 + 1;  // with the class token
constexpr float kDropPath = 0.5f;
constexpr int kDropPathLayer = 8;  // its node index below
const std::string kBlock = "encoder.layers.encoder_layer_0.";

std::unique_ptr<nn::Graph> vit_graph() {
  auto g = std::make_unique<nn::Graph>();
  g->add<nn::Conv2d>("conv_proj", 3, kHidden, kPatch, nn::Conv2dOptions{.stride = kPatch});
  g->add<nn::PatchTokens>("patch_tokens");
  g->add<nn::ClassToken>("class_token", kHidden);
  g->add<nn::PositionEmbedding>("encoder", kTokens, kHidden);
  const nn::ValueId x = g->last_value();
  g->add<nn::LayerNorm>(kBlock + "ln_2", kHidden);
  g->add<nn::Linear>(kBlock + "mlp.0", kHidden, kMlp);
  g->add<nn::GELU>(kBlock + "mlp.1");
  g->add<nn::Linear>(kBlock + "mlp.3", kMlp, kHidden);
  g->add<nn::DropPath>(kBlock + "drop_path", kDropPath);
  g->node<nn::Add>({g->last_value(), x}, kBlock + "add");
  g->add<nn::LayerNorm>("encoder.ln", kHidden, 1e-6);
  g->add<nn::SelectToken>("class_token_out");
  g->add<nn::Linear>("heads.head", kHidden, kClasses);
  return g;
}

// ---- float64 reference: tokens [n, t, d] as flat vectors ----

struct Tok {
  std::vector<double> v;
  int64_t n, t, d;
  double& at(int64_t i, int64_t k, int64_t c) {
    return v[static_cast<size_t>((i * t + k) * d + c)];
  }
};

Tok layer_norm_tok(Tok x, const double* w, const double* b, double eps) {
  for (int64_t r = 0; r < x.n * x.t; ++r) {
    double* row = x.v.data() + r * x.d;
    double mean = 0.0, var = 0.0;
    for (int64_t c = 0; c < x.d; ++c) mean += row[c];
    mean /= static_cast<double>(x.d);
    for (int64_t c = 0; c < x.d; ++c) var += (row[c] - mean) * (row[c] - mean);
    var /= static_cast<double>(x.d);
    for (int64_t c = 0; c < x.d; ++c) row[c] = (row[c] - mean) / std::sqrt(var + eps) * w[c] + b[c];
  }
  return x;
}

Tok linear_tok(const Tok& x, const double* w, const double* b, int64_t out) {
  Tok y{std::vector<double>(static_cast<size_t>(x.n * x.t * out)), x.n, x.t, out};
  for (int64_t r = 0; r < x.n * x.t; ++r)
    for (int64_t o = 0; o < out; ++o) {
      double s = b[o];
      for (int64_t c = 0; c < x.d; ++c) s += x.v[static_cast<size_t>(r * x.d + c)] * w[o * x.d + c];
      y.v[static_cast<size_t>(r * out + o)] = s;
    }
  return y;
}

// The logits; `keep` holds each sample's drop-path factor (0 or 1 / (1 - p); 1 in evaluation).
Act vit_ref(const std::vector<double>& theta, const Params& at, const Act& images,
            const std::vector<double>& keep) {
  const auto p = [&](const std::string& name) { return theta.data() + at.at(name); };
  const Act a = test::conv2d_ref(images, p("conv_proj.weight"), p("conv_proj.bias"), kHidden,
                                 kPatch, kPatch, 0);
  // Patches to tokens, the class token first, the position embedding added.
  Tok x{std::vector<double>(static_cast<size_t>(a.n * kTokens * kHidden)), a.n, kTokens, kHidden};
  const double* cls = p("class_token");
  const double* pos = p("encoder.pos_embedding");
  for (int64_t i = 0; i < a.n; ++i)
    for (int64_t c = 0; c < kHidden; ++c) {
      x.at(i, 0, c) = cls[c] + pos[c];
      for (int64_t k = 0; k + 1 < kTokens; ++k)
        x.at(i, k + 1, c) = a.at(i, c, k / a.w, k % a.w) + pos[(k + 1) * kHidden + c];
    }
  Tok h = layer_norm_tok(x, p(kBlock + "ln_2.weight"), p(kBlock + "ln_2.bias"), 1e-5);
  h = linear_tok(h, p(kBlock + "mlp.0.weight"), p(kBlock + "mlp.0.bias"), kMlp);
  for (double& v : h.v) v = 0.5 * v * (1.0 + std::erf(v / std::sqrt(2.0)));
  h = linear_tok(h, p(kBlock + "mlp.3.weight"), p(kBlock + "mlp.3.bias"), kHidden);
  for (int64_t i = 0; i < h.n; ++i)
    for (int64_t k = 0; k < h.t; ++k)
      for (int64_t c = 0; c < h.d; ++c)
        h.at(i, k, c) = h.at(i, k, c) * keep[static_cast<size_t>(i)] + x.at(i, k, c);
  h = layer_norm_tok(h, p("encoder.ln.weight"), p("encoder.ln.bias"), 1e-6);
  Act cls_out = test::make_act(h.n, kHidden, 1, 1);
  for (int64_t i = 0; i < h.n; ++i)
    for (int64_t c = 0; c < kHidden; ++c)
      cls_out.v[static_cast<size_t>(i * kHidden + c)] = h.at(i, 0, c);
  return test::linear_ref(cls_out, p("heads.head.weight"), p("heads.head.bias"), kClasses);
}

// Each sample's drop-path factor at `step`: kept iff uniform(seed, stream, n) >= p.
std::vector<double> keep_factors(uint64_t seed, int64_t step, int64_t batch) {
  std::vector<double> keep;
  for (int64_t n = 0; n < batch; ++n)
    keep.push_back(rng::uniform(seed, kernels::dropout_stream(step, kDropPathLayer),
                                static_cast<uint64_t>(n)) >= kDropPath
                       ? 1.0 / (1.0 - kDropPath)
                       : 0.0);
  return keep;
}

// A graph with every parameter moved off its start (LayerNorm 1 and 0, class token 0).
std::unique_ptr<nn::Graph> built_graph(const Context& ctx, std::mt19937_64& gen) {
  auto g = vit_graph();
  g->build(ctx, kImage, kBatch, kClasses);
  g->initialize(ctx, init::InitScheme::PyTorchDefault, 77);
  for (const nn::NamedTensor& p : g->named_parameters()) {
    Tensor t = p.tensor;
    t.copy_from(test::random_tensor(t.shape(), gen, -0.8f, 0.8f));
  }
  return g;
}

TEST(VitTokensGraph, TorchvisionNamesAndInPlaceLayers) {
  auto g = vit_graph();
  g->plan(kImage, kBatch, kClasses);
  std::vector<std::string> names;
  for (const nn::ParamInfo& p : g->parameter_infos()) names.push_back(p.name);
  // torchvision's state_dict keys (its order puts class_token, a parameter of the model itself,
  // before conv_proj; checkpoints match by name).
  EXPECT_EQ(names,
            (std::vector<std::string>{
                "conv_proj.weight", "conv_proj.bias", "class_token", "encoder.pos_embedding",
                kBlock + "ln_2.weight", kBlock + "ln_2.bias", kBlock + "mlp.0.weight",
                kBlock + "mlp.0.bias", kBlock + "mlp.3.weight", kBlock + "mlp.3.bias",
                "encoder.ln.weight", "encoder.ln.bias", "heads.head.weight", "heads.head.bias"}));
  EXPECT_EQ(g->layer(kDropPathLayer).type(), "StochasticDepth");
  const nn::GraphSummary s = g->summary();
  EXPECT_EQ(s.layers[3].memory_note, "in place");               // position embedding
  EXPECT_EQ(s.layers[kDropPathLayer].memory_note, "in place");  // drop path
  EXPECT_EQ(s.layers[1].output, (Shape{kBatch, 6, kHidden}));
  EXPECT_EQ(s.layers[2].output, (Shape{kBatch, kTokens, kHidden}));
  // Linear on tokens counts one product per token.
  EXPECT_EQ(s.layers[5].multiply_adds, kBatch * kTokens * kHidden * kMlp);
}

TEST(VitTokensGraph, GradientsMatchCentralDifferences) {
  Context ctx;
  std::mt19937_64 gen(test::test_seed() + 601);
  auto g = built_graph(ctx, gen);
  // A step whose drop-path mask keeps some samples and drops others.
  int64_t step = 0;
  std::vector<double> keep;
  for (;; ++step) {
    keep = keep_factors(g->seed(), step, kBatch);
    int kept = 0;
    for (double k : keep) kept += k > 0.0 ? 1 : 0;
    if (kept > 0 && kept < kBatch) break;
  }
  const Tensor images = test::random_tensor(Shape{kBatch, 3, 4, 6}, gen);
  const Tensor labels = test::random_labels(kBatch, kClasses, gen);
  const std::vector<int32_t> label_vec = labels.to_int_vector();
  const std::vector<double> theta = test::packed_parameters(*g);
  const Params at = test::packed_offsets(*g);
  const Act in = test::to_act(images);

  test::loss_and_gradients(ctx, *g, images, labels, step);
  const auto loss_of = [&](const std::vector<double>& v) {
    return std::vector<double>{test::cross_entropy_ref(vit_ref(v, at, in, keep), label_vec)};
  };
  const std::vector<double> expected = test::numeric_gradient(loss_of, theta, {1.0});
  EXPECT_TRUE(test::all_close(expected, test::packed_gradients(*g), 1e-4, 5e-6));

  // Evaluation: no drop path.
  const Tensor logits = g->forward(ctx, images, /*training=*/false, step);
  EXPECT_TRUE(test::all_close(vit_ref(theta, at, in, std::vector<double>(kBatch, 1.0)).v, logits,
                              1e-5, 1e-5));
}

TEST(VitTokensGraph, ThreadCountDoesNotChangeAStep) {
  Context ctx;
  std::mt19937_64 gen(test::test_seed() + 602);
  const Tensor images = test::random_tensor(Shape{kBatch, 3, 4, 6}, gen);
  const Tensor labels = test::random_labels(kBatch, kClasses, gen);
  std::vector<float> grads[2];
  for (int t = 0; t < 2; ++t) {
    std::mt19937_64 same(test::test_seed() + 603);
    auto g = built_graph(ctx, same);
    cpu::set_num_threads(t + 1);
    test::loss_and_gradients(ctx, *g, images, labels, 3);
    grads[t] = test::packed_gradients(*g);
  }
  cpu::set_num_threads(0);
  EXPECT_TRUE(test::same_bits(grads[0], grads[1]));
}

}  // namespace
}  // namespace kestrel
