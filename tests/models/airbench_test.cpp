// airbench94 (models/airbench.hpp): its counts (1,972,792 parameters, 1,440 of them frozen,
// 118 M multiply-adds at 32x32), the frozen and data-initialised parameters, the starts its
// convolutions take (dirac_ on the first min(out, in) filters over PyTorch's default draw),
// the fixed 1/9 logit scale (forward and backward against float64), and the graph refusing a
// patch-whitening layer that does not read the images. Numerical parity with the PyTorch
// module is ctest parity.airbench94.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <string>
#include <vector>

#include "engine/init/init.hpp"
#include "engine/nn/conv2d.hpp"
#include "engine/nn/flatten.hpp"
#include "engine/nn/linear.hpp"
#include "engine/nn/scale.hpp"
#include "models/registry.hpp"
#include "tests/support/compare.hpp"
#include "tests/support/errors.hpp"
#include "tests/support/random.hpp"

namespace kestrel {
namespace {

const models::ModelInput kCifar{3, 32, 32, 10};

Tensor named(const std::vector<nn::NamedTensor>& tensors, const std::string& name) {
  for (const nn::NamedTensor& t : tensors)
    if (t.name == name) return t.tensor;
  ADD_FAILURE() << "no tensor " << name;
  return Tensor();
}

TEST(Airbench94, CountsAreAirbench94s) {
  const auto g = models::build_model("airbench94", kCifar);
  EXPECT_EQ(g->parameter_count(), 1'972'792);
  EXPECT_EQ(g->parameter_count() - g->trainable_parameter_count(), 1'440);
  EXPECT_EQ(g->summary().multiply_adds, 118'147'360);
  // Frozen: the whitening filters and every norm weight; the whitening bias trains.
  std::vector<std::string> frozen;
  for (const nn::StateInfo& s : g->state_infos())
    if (s.frozen_parameter) frozen.push_back(s.name);
  EXPECT_EQ(frozen, (std::vector<std::string>{
                        "whiten.weight", "block1.norm1.weight", "block1.norm2.weight",
                        "block2.norm1.weight", "block2.norm2.weight", "block3.norm1.weight",
                        "block3.norm2.weight"}));
  EXPECT_EQ(g->parameter_infos().front().name, "whiten.bias");
  EXPECT_EQ(g->parameter_infos().back().name, "head.weight");
  // MNIST-sized images work too: 27 -> 13 -> 6 -> 3, the last pooling 3x3; 8x8 does not.
  // (8 whitening filters of 1x2x2 instead of 24 of 3x2x2, and block1.conv1 reads 8 channels.)
  EXPECT_EQ(models::build_model("airbench94", {1, 28, 28, 10})->parameter_count(), 1'963'304);
  test::expect_error([] { models::build_model("airbench94", {3, 8, 8, 10}); },
                     "at least 9x9");
}

TEST(Airbench94, ConvolutionsStartAsDiracOverTheDefaultDraw) {
  const auto g = models::build_model("airbench94", kCifar);
  Context ctx;
  g->build(ctx, 2);
  g->initialize(ctx, init::InitScheme::PyTorchDefault, test::test_seed());
  const auto params = g->named_parameters();
  const auto state = g->named_state();
  // The whitening filters wait for the data: zero until the trainer fills them.
  const std::vector<float> whiten = named(state, "whiten.weight").to_vector();
  EXPECT_TRUE(std::all_of(whiten.begin(), whiten.end(), [](float v) { return v == 0.0f; }));
  const auto whitened = g->patch_whitened_parameters();
  ASSERT_EQ(whitened.size(), 1u);
  EXPECT_EQ(whitened[0].name, "whiten.weight");
  for (const std::string block : {"block1", "block2", "block3"})
    for (const std::string conv : {".conv1.weight", ".conv2.weight"}) {
      SCOPED_TRACE(block + conv);
      const Tensor w = named(params, block + conv);
      const int64_t out = w.dim(0), in = w.dim(1);
      const std::vector<float> v = w.to_vector();
      const float bound = 1.0f / std::sqrt(static_cast<float>(in * 9));
      double sum_sq = 0.0;
      int64_t drawn = 0;
      for (int64_t o = 0; o < out; ++o)
        for (int64_t i = 0; i < in; ++i)
          for (int64_t k = 0; k < 9; ++k) {
            const float x = v[static_cast<size_t>((o * in + i) * 9 + k)];
            if (o < in) {
              ASSERT_EQ(x, o == i && k == 4 ? 1.0f : 0.0f) << o << "," << i << "," << k;
            } else {
              ASSERT_LE(std::fabs(x), bound);
              sum_sq += static_cast<double>(x) * x;
              ++drawn;
            }
          }
      // conv1 of block 1 and 2 widen (24 -> 64, 64 -> 256): the rest is U(-b, b), of variance
      // b^2 / 3; every conv2 (and block3.conv1) is square, hence all identity.
      if (out > in) {
        EXPECT_NEAR(sum_sq / static_cast<double>(drawn), bound * bound / 3.0,
                    0.05 * bound * bound);
      }
    }
  // Norm weights 1 (frozen), biases 0.
  const std::vector<float> gamma = named(state, "block2.norm1.weight").to_vector();
  EXPECT_TRUE(std::all_of(gamma.begin(), gamma.end(), [](float v) { return v == 1.0f; }));
}

TEST(Airbench94, ScaleMultipliesTheLogitsAndTheirGradient) {
  std::mt19937_64 gen(test::test_seed() + 1);
  Context ctx;
  nn::Scale scale("scale", 1.0f / 9.0f);
  const Tensor x = test::random_tensor(Shape{5, 10}, gen, -20.0f, 20.0f);
  Tensor y = Tensor::empty(x.shape(), DType::F32, Device::cpu());
  scale.forward(ctx, x, y, nn::StepInfo{});
  std::vector<double> expected = test::to_double(x);
  for (double& v : expected) v /= 9.0;
  EXPECT_TRUE(test::all_close(expected, y, 1e-7, 0.0));
  const Tensor dy = test::random_tensor(x.shape(), gen);
  Tensor dx = Tensor::empty(x.shape(), DType::F32, Device::cpu());
  scale.backward(ctx, x, y, dy, &dx, nn::StepInfo{});
  expected = test::to_double(dy);
  for (double& v : expected) v /= 9.0;
  EXPECT_TRUE(test::all_close(expected, dx, 1e-7, 0.0));
  EXPECT_EQ(scale.label(), "Mul 0.111111");
  test::expect_error([] { nn::Scale("s", 0.0f); }, "finite and non-zero");
}

TEST(Airbench94, PatchWhiteningNeedsTheGraphInput) {
  nn::Graph g;
  g.add<nn::Conv2d>("stem", 3, 8, 3);
  g.add<nn::Conv2d>("whiten", 8, 2 * 8 * 4, 2,
                    nn::Conv2dOptions{.weight_init = nn::ParamInit::PatchWhitening,
                                      .bias_init = nn::ParamInit::Zeros});
  g.add<nn::Flatten>("flatten");
  g.add<nn::Linear>("fc", 0, 10);
  test::expect_error([&] { g.plan(Shape{3, 16, 16}, 1, 10); },
                     "whiten.weight starts from a whitening of the input images, so layer "
                     "whiten must read the graph's input");
}

}  // namespace
}  // namespace kestrel
