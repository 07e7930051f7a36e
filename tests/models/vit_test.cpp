// The ViTs: parameter counts and state_dict names and shapes against torchvision 0.14's
// (vit_b_16: 86,567,656 parameters in 152 entries; the CIFAR form, VisionTransformer(32, 4, 6
// layers, 3 heads, 192, 384, 10 classes): 1,806,538 in 80), token counts per image size, the
// refusal of a size the patch does not divide, multiply-adds, the fixed starts, and the same
// bits on 1 and 2 threads. Numerical parity with PyTorch is bench/pytorch/parity.py (ctest
// parity.vit*).
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

const ModelInput kMnist{1, 28, 28, 10};
const ModelInput kCifar{3, 32, 32, 10};
const ModelInput kImagenet{3, 224, 224, 1000};

const nn::ParamInfo* find(const nn::Graph& g, const std::string& name) {
  for (const nn::ParamInfo& p : g.parameter_infos())
    if (p.name == name) return &p;
  return nullptr;
}

std::string error_of(const ModelInput& in) {
  try {
    models::build_model("vit", in);
  } catch (const Error& e) {
    return e.message();  // without the location
  }
  return "no error";
}

TEST(Vit, ParameterCountsAreTorchvisions) {
  EXPECT_EQ(models::build_model("vit", kImagenet)->parameter_count(), 86'567'656);
  // Per block: ln_1, ln_2 4 * 192, attention 4 * 192^2 + 4 * 192, mlp 2 * 192 * 384 + 384 + 192
  // = 297,024; conv_proj 192 * 3 * 16 + 192, class_token 192, pos_embedding 65 * 192,
  // encoder.ln 384, heads.head 1,930.
  EXPECT_EQ(models::build_model("vit", kCifar)->parameter_count(),
            6 * 297'024 + 9'408 + 192 + 12'480 + 384 + 1'930);  // 1,806,538
  // MNIST: one input channel and 7 x 7 + 1 tokens.
  EXPECT_EQ(models::build_model("vit", kMnist)->parameter_count(),
            1'806'538 - 192 * 2 * 16 - (65 - 50) * 192);
}

TEST(Vit, VitB16StateDictIsTorchvisions) {
  const auto g = models::build_model("vit", kImagenet);
  EXPECT_EQ(g->parameter_infos().size(), 152u);
  EXPECT_TRUE(g->state_infos().empty());
  const std::string b11 = "encoder.layers.encoder_layer_11.";
  const std::vector<std::pair<std::string, Shape>> expected{
      {"conv_proj.weight", {768, 3, 16, 16}},
      {"conv_proj.bias", {768}},
      {"class_token", {1, 1, 768}},
      {"encoder.pos_embedding", {1, 197, 768}},
      {"encoder.layers.encoder_layer_0.ln_1.weight", {768}},
      {"encoder.layers.encoder_layer_0.ln_1.bias", {768}},
      {"encoder.layers.encoder_layer_0.self_attention.in_proj_weight", {2304, 768}},
      {"encoder.layers.encoder_layer_0.self_attention.in_proj_bias", {2304}},
      {"encoder.layers.encoder_layer_0.self_attention.out_proj.weight", {768, 768}},
      {"encoder.layers.encoder_layer_0.self_attention.out_proj.bias", {768}},
      {"encoder.layers.encoder_layer_0.ln_2.weight", {768}},
      {"encoder.layers.encoder_layer_0.mlp.0.weight", {3072, 768}},
      {"encoder.layers.encoder_layer_0.mlp.0.bias", {3072}},
      {"encoder.layers.encoder_layer_0.mlp.3.weight", {768, 3072}},
      {"encoder.layers.encoder_layer_0.mlp.3.bias", {768}},
      {b11 + "ln_2.bias", {768}},
      {b11 + "mlp.3.weight", {768, 3072}},
      {"encoder.ln.weight", {768}},
      {"encoder.ln.bias", {768}},
      {"heads.head.weight", {1000, 768}},
      {"heads.head.bias", {1000}}};
  for (const auto& [name, shape] : expected) {
    const nn::ParamInfo* p = find(*g, name);
    ASSERT_NE(p, nullptr) << name;
    EXPECT_EQ(p->shape, shape) << name;
  }
  EXPECT_EQ(find(*g, "encoder.layers.encoder_layer_12.ln_1.weight"), nullptr);
  // torchvision's order but for class_token, which it lists first (a parameter of the model
  // itself); checkpoints match by name.
  EXPECT_EQ(g->parameter_infos().front().name, "conv_proj.weight");
  EXPECT_EQ(g->parameter_infos()[4].name, "encoder.layers.encoder_layer_0.ln_1.weight");
  EXPECT_EQ(g->parameter_infos().back().name, "heads.head.bias");
}

TEST(Vit, CifarFormStateDictAndShapes) {
  const auto g = models::build_model("vit", kCifar);
  EXPECT_EQ(g->parameter_infos().size(), 80u);  // 4 + 6 * 12 + 2 + 2
  EXPECT_EQ(find(*g, "conv_proj.weight")->shape, (Shape{192, 3, 4, 4}));
  EXPECT_EQ(find(*g, "encoder.pos_embedding")->shape, (Shape{1, 65, 192}));
  EXPECT_EQ(find(*g, "encoder.layers.encoder_layer_5.self_attention.in_proj_weight")->shape,
            (Shape{576, 192}));
  EXPECT_EQ(find(*g, "encoder.layers.encoder_layer_5.mlp.0.weight")->shape, (Shape{384, 192}));
  EXPECT_EQ(find(*g, "heads.head.weight")->shape, (Shape{10, 192}));
  EXPECT_EQ(find(*g, "encoder.layers.encoder_layer_6.ln_1.weight"), nullptr);
  EXPECT_EQ(g->layer(1).name(), "patch_tokens");
  EXPECT_EQ(g->output_shape(1), (Shape{1, 64, 192}));
  EXPECT_EQ(g->output_shape(2), (Shape{1, 65, 192}));          // with the class token
  EXPECT_EQ(g->output_shape(g->size() - 2), (Shape{1, 192}));  // token 0
  EXPECT_EQ(g->output_shape(g->size() - 1), (Shape{1, 10}));
}

TEST(Vit, ImageSizesThePatchDivides) {
  // Not square, larger than 32: vit_b_16's patch 16, 4 x 6 + 1 tokens.
  const auto g = models::build_model("vit", ModelInput{3, 64, 96, 10});
  EXPECT_EQ(find(*g, "encoder.pos_embedding")->shape, (Shape{1, 25, 768}));
  EXPECT_EQ(error_of({3, 30, 30, 10}),
            "model vit does not fit 3x30x30 images: vit: patch 4 does not divide the 30x30 image");
  EXPECT_EQ(error_of({3, 224, 200, 1000}),
            "model vit does not fit 3x224x200 images: vit: patch 16 "
            "does not divide the 224x200 image");
}

// The projections (4 D^2 per token), the attention products (2 T^2 D per sample), the MLP
// (2 D M per token), conv_proj (a D x 3p^2 product per patch) and the head.
TEST(Vit, MultiplyAdds) {
  const auto macs = [](int64_t patches, int64_t layers, int64_t d, int64_t m, int64_t patch,
                       int64_t classes) {
    const int64_t t = patches + 1;
    return patches * d * 3 * patch * patch +
           layers * (t * 4 * d * d + 2 * t * t * d + 2 * t * d * m) + d * classes;
  };
  EXPECT_EQ(models::build_model("vit", kCifar)->summary().multiply_adds,
            macs(64, 6, 192, 384, 4, 10));  // 125,341,824
  EXPECT_EQ(models::build_model("vit", kImagenet)->summary().multiply_adds,
            macs(196, 12, 768, 3072, 16, 1000));  // 17,563,809,792
}

double stddev(const std::vector<float>& v) {
  double sum = 0, sq = 0;
  for (float x : v) sum += x;
  const double mean = sum / static_cast<double>(v.size());
  for (float x : v) sq += (x - mean) * (x - mean);
  return std::sqrt(sq / static_cast<double>(v.size() - 1));
}

TEST(Vit, FixedStartsAreTorchvisions) {
  Context ctx;
  auto g = models::build_model("vit", kCifar);
  g->build(ctx, 1);
  g->initialize(ctx, init::InitScheme::PyTorchDefault, test::test_seed());
  const std::string b0 = "encoder.layers.encoder_layer_0.";
  for (const nn::NamedTensor& p : g->named_parameters()) {
    const std::vector<float> v = p.tensor.to_vector();
    if (p.name == "class_token" || p.name == b0 + "self_attention.in_proj_bias" ||
        p.name == b0 + "self_attention.out_proj.bias" || p.name == "encoder.ln.bias" ||
        p.name == "conv_proj.bias" || p.name == "heads.head.weight" ||
        p.name == "heads.head.bias") {
      for (float x : v) ASSERT_EQ(x, 0.0f) << p.name;
    } else if (p.name == b0 + "ln_1.weight" || p.name == "encoder.ln.weight") {
      for (float x : v) ASSERT_EQ(x, 1.0f) << p.name;
    } else if (p.name == "encoder.pos_embedding") {
      EXPECT_NEAR(stddev(v), 0.02, 0.001);  // over 12,480 draws
    } else if (p.name == b0 + "self_attention.in_proj_weight") {
      // xavier_uniform_ on [576, 192]: std = sqrt(2 / (192 + 576)).
      EXPECT_NEAR(stddev(v), std::sqrt(2.0 / 768.0), 0.002);
    } else if (p.name == b0 + "mlp.0.weight" || p.name == b0 + "mlp.3.weight") {
      // xavier_uniform_ on [384, 192] or [192, 384]: std = sqrt(2 / 576), 73,728 draws.
      EXPECT_NEAR(stddev(v), std::sqrt(2.0 / 576.0), 0.002) << p.name;
    } else if (p.name == b0 + "mlp.0.bias") {
      EXPECT_NEAR(stddev(v), 1e-6, 0.25e-6);  // N(0, 1e-6^2), 384 draws: 7 standard errors
    } else if (p.name == "conv_proj.weight") {
      // N(0, 1 / fan_in), fan_in 3 * 4 * 4: std 0.144, 9,216 draws.
      EXPECT_NEAR(stddev(v), std::sqrt(1.0 / 48.0), 0.006);
    }
  }
}

TEST(Vit, StepIsTheSameOnOneAndTwoThreads) {
  std::mt19937_64 gen(test::test_seed() + 16);
  SCOPED_TRACE("seed " + std::to_string(test::test_seed()));
  Context ctx;
  auto g = models::build_model("vit", kCifar);
  g->build(ctx, 2);
  g->initialize(ctx, init::InitScheme::PyTorchDefault, gen());
  const Tensor x = test::random_tensor(Shape{2, 3, 32, 32}, gen);
  const Tensor labels = test::random_labels(2, 10, gen);
  test::expect_same_step_on_one_and_two_threads(ctx, *g, x, labels, 0);
}

}  // namespace
}  // namespace kestrel
