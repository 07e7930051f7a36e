// The ViT token ops and layers against float64 references written here from torchvision's
// VisionTransformer (x.reshape(n, D, h * w).permute(0, 2, 1); torch.cat([class_token.expand(n,
// -1, -1), x], dim=1); x + pos_embedding; x[:, 0]): forwards exactly (they copy and add), every
// backward against central differences of its reference (inputs and parameters), position
// embedding in place, 1 vs 2 threads bit for bit, the layers' shapes, parameters and
// initialisation (class_token zeros, pos_embedding N(0, 0.02^2) under every scheme), errors.
#include "engine/nn/tokens.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <ostream>
#include <vector>

#include "engine/init/init.hpp"
#include "engine/nn/graph.hpp"
#include "engine/nn/linear.hpp"
#include "engine/ops/tokens.hpp"
#include "kernels/cpu/parallel.hpp"
#include "tests/support/compare.hpp"
#include "tests/support/errors.hpp"
#include "tests/support/gradcheck.hpp"
#include "tests/support/random.hpp"

namespace kestrel {
namespace {

using test::to_double;
using Vec = std::vector<double>;

size_t at3(int64_t a, int64_t b, int64_t c, int64_t nb, int64_t nc) {
  return static_cast<size_t>((a * nb + b) * nc + c);
}

// ---- float64 references ----

// x [N, D, h*w] -> [N, h*w, D].
Vec patch_tokens_ref(const Vec& x, int64_t n, int64_t d, int64_t t) {
  Vec y(x.size());
  for (int64_t s = 0; s < n; ++s)
    for (int64_t k = 0; k < t; ++k)
      for (int64_t c = 0; c < d; ++c) y[at3(s, k, c, t, d)] = x[at3(s, c, k, d, t)];
  return y;
}

Vec class_token_ref(const Vec& x, const Vec& token, int64_t n, int64_t t, int64_t d) {
  Vec y(static_cast<size_t>(n * (t + 1) * d));
  for (int64_t s = 0; s < n; ++s)
    for (int64_t c = 0; c < d; ++c) {
      y[at3(s, 0, c, t + 1, d)] = token[static_cast<size_t>(c)];
      for (int64_t k = 0; k < t; ++k) y[at3(s, k + 1, c, t + 1, d)] = x[at3(s, k, c, t, d)];
    }
  return y;
}

Vec position_ref(const Vec& x, const Vec& pos) {
  Vec y(x.size());
  for (size_t i = 0; i < x.size(); ++i) y[i] = x[i] + pos[i % pos.size()];
  return y;
}

Vec select_ref(const Vec& x, int64_t n, int64_t t, int64_t d, int64_t index) {
  Vec y(static_cast<size_t>(n * d));
  for (int64_t s = 0; s < n; ++s)
    for (int64_t c = 0; c < d; ++c) y[static_cast<size_t>(s * d + c)] = x[at3(s, index, c, t, d)];
  return y;
}

struct TokenShape {
  int64_t n, t, d;
};
void PrintTo(const TokenShape& s, std::ostream* os) { *os << s.n << "x" << s.t << "x" << s.d; }

class TokenOps : public ::testing::TestWithParam<TokenShape> {
 protected:
  Context ctx;
  std::mt19937_64 gen{test::test_seed() + 401};
};

TEST_P(TokenOps, PatchTokens) {
  const int64_t n = GetParam().n, t = GetParam().t, d = GetParam().d;
  // h * w = t as [1, t] or [t/2, 2] planes: both are row-major patches.
  const Shape img = t % 2 == 0 ? Shape{n, d, t / 2, 2} : Shape{n, d, 1, t};
  const Tensor x = test::random_tensor(img, gen), dy = test::random_tensor(Shape{n, t, d}, gen);
  Tensor y = Tensor::empty(Shape{n, t, d}), dx = Tensor::empty(img);
  y.fill(NAN);
  dx.fill(NAN);
  ops::patch_tokens_forward(ctx, x, y);
  ops::patch_tokens_backward(ctx, dy, dx);
  EXPECT_TRUE(test::all_close(patch_tokens_ref(to_double(x), n, d, t), y, 0.0, 0.0));
  const auto f = [&](const Vec& v) { return patch_tokens_ref(v, n, d, t); };
  EXPECT_TRUE(
      test::all_close(test::numeric_gradient(f, to_double(x), to_double(dy)), dx, 1e-7, 1e-7));
}

TEST_P(TokenOps, ClassToken) {
  const int64_t n = GetParam().n, t = GetParam().t, d = GetParam().d;
  const Tensor x = test::random_tensor(Shape{n, t, d}, gen),
               token = test::random_tensor(Shape{1, 1, d}, gen),
               dy = test::random_tensor(Shape{n, t + 1, d}, gen);
  Tensor y = Tensor::empty(Shape{n, t + 1, d}), dx = Tensor::empty(x.shape()),
         dtoken = Tensor::empty(token.shape());
  y.fill(NAN);
  dx.fill(NAN);
  dtoken.fill(NAN);
  ops::class_token_forward(ctx, x, token, y);
  ops::class_token_backward(ctx, dy, &dx, &dtoken);
  const Vec xd = to_double(x), td = to_double(token), r = to_double(dy);
  EXPECT_TRUE(test::all_close(class_token_ref(xd, td, n, t, d), y, 0.0, 0.0));
  const auto of_x = [&](const Vec& v) { return class_token_ref(v, td, n, t, d); };
  const auto of_token = [&](const Vec& v) { return class_token_ref(xd, v, n, t, d); };
  EXPECT_TRUE(test::all_close(test::numeric_gradient(of_x, xd, r), dx, 1e-7, 1e-7)) << "dx";
  EXPECT_TRUE(test::all_close(test::numeric_gradient(of_token, td, r), dtoken, 1e-6, 1e-6))
      << "dtoken";
  // Each gradient alone is the same.
  Tensor dtoken_alone = Tensor::empty(token.shape());
  ops::class_token_backward(ctx, dy, nullptr, &dtoken_alone);
  EXPECT_TRUE(test::same_bits(dtoken, dtoken_alone));
}

TEST_P(TokenOps, PositionEmbeddingAlsoInPlace) {
  const int64_t n = GetParam().n, t = GetParam().t, d = GetParam().d;
  const Tensor x = test::random_tensor(Shape{n, t, d}, gen),
               pos = test::random_tensor(Shape{1, t, d}, gen),
               dy = test::random_tensor(Shape{n, t, d}, gen);
  Tensor y = Tensor::empty(x.shape()), dx = Tensor::empty(x.shape()),
         dpos = Tensor::empty(pos.shape());
  y.fill(NAN);
  dx.fill(NAN);
  dpos.fill(NAN);
  ops::position_embedding_forward(ctx, x, pos, y);
  ops::position_embedding_backward(ctx, dy, &dx, &dpos);
  const Vec xd = to_double(x), pd = to_double(pos), r = to_double(dy);
  EXPECT_TRUE(test::all_close(position_ref(xd, pd), y, 1e-7, 0.0));  // one f32 rounding
  const auto of_x = [&](const Vec& v) { return position_ref(v, pd); };
  const auto of_pos = [&](const Vec& v) { return position_ref(xd, v); };
  EXPECT_TRUE(test::all_close(test::numeric_gradient(of_x, xd, r), dx, 1e-7, 1e-7)) << "dx";
  EXPECT_TRUE(test::all_close(test::numeric_gradient(of_pos, pd, r), dpos, 1e-6, 1e-6)) << "dpos";

  // In place: y is x, dx is dy; the same bits.
  Tensor inplace = x.to(Device::cpu()), dinplace = dy.to(Device::cpu());
  ops::position_embedding_forward(ctx, inplace, pos, inplace);
  ops::position_embedding_backward(ctx, dinplace, &dinplace, nullptr);
  EXPECT_TRUE(test::same_bits(y, inplace));
  EXPECT_TRUE(test::same_bits(dy, dinplace));
}

TEST_P(TokenOps, SelectToken) {
  const int64_t n = GetParam().n, t = GetParam().t, d = GetParam().d;
  for (int64_t index : {int64_t{0}, t - 1}) {
    const Tensor x = test::random_tensor(Shape{n, t, d}, gen),
                 dy = test::random_tensor(Shape{n, d}, gen);
    Tensor y = Tensor::empty(Shape{n, d}), dx = Tensor::empty(x.shape());
    y.fill(NAN);
    dx.fill(NAN);
    ops::select_token_forward(ctx, x, index, y);
    ops::select_token_backward(ctx, dy, index, dx);
    EXPECT_TRUE(test::all_close(select_ref(to_double(x), n, t, d, index), y, 0.0, 0.0));
    const auto f = [&](const Vec& v) { return select_ref(v, n, t, d, index); };
    EXPECT_TRUE(
        test::all_close(test::numeric_gradient(f, to_double(x), to_double(dy)), dx, 1e-7, 1e-7))
        << "index " << index;
  }
}

INSTANTIATE_TEST_SUITE_P(Shapes, TokenOps,
                         ::testing::Values(TokenShape{2, 4, 3}, TokenShape{1, 5, 7},
                                           TokenShape{3, 1, 2}, TokenShape{4, 9, 5}));

TEST(Tokens, ThreadCountDoesNotChangeResults) {
  Context ctx;
  std::mt19937_64 gen(test::test_seed() + 402);
  const int64_t n = 64, t = 50, d = 48;  // 153,600 elements: spread over threads
  const Tensor img = test::random_tensor(Shape{n, d, 10, 5}, gen),
               token = test::random_tensor(Shape{1, 1, d}, gen),
               pos = test::random_tensor(Shape{1, t + 1, d}, gen),
               dy = test::random_tensor(Shape{n, t + 1, d}, gen);
  const auto run = [&](int threads) {
    cpu::set_num_threads(threads);
    Tensor tokens = Tensor::empty(Shape{n, t, d}), with_cls = Tensor::empty(Shape{n, t + 1, d}),
           sel = Tensor::empty(Shape{n, d}), dpos = Tensor::empty(pos.shape()),
           dtoken = Tensor::empty(token.shape()), dx = Tensor::empty(Shape{n, t, d}),
           dimg = Tensor::empty(img.shape()), dsel = Tensor::empty(Shape{n, t + 1, d});
    ops::patch_tokens_forward(ctx, img, tokens);
    ops::class_token_forward(ctx, tokens, token, with_cls);
    ops::position_embedding_forward(ctx, with_cls, pos, with_cls);
    ops::select_token_forward(ctx, with_cls, 0, sel);
    ops::select_token_backward(ctx, sel, 0, dsel);
    ops::position_embedding_backward(ctx, dy, nullptr, &dpos);
    ops::class_token_backward(ctx, dy, &dx, &dtoken);
    ops::patch_tokens_backward(ctx, dx, dimg);
    cpu::set_num_threads(0);
    std::vector<float> all;
    for (const Tensor& x : {with_cls, sel, dsel, dpos, dtoken, dimg}) {
      const auto v = x.to_vector();
      all.insert(all.end(), v.begin(), v.end());
    }
    return all;
  };
  EXPECT_TRUE(test::same_bits(run(1), run(2)));
}

TEST(TokenLayers, ShapesAndParameters) {
  nn::PatchTokens patches("patches");
  EXPECT_EQ(patches.setup(Shape{2, 16, 3, 4}), (Shape{2, 12, 16}));
  nn::ClassToken cls("class_token", 16);
  EXPECT_EQ(cls.setup(Shape{2, 12, 16}), (Shape{2, 13, 16}));
  EXPECT_EQ(cls.param_scope(), "");
  ASSERT_EQ(cls.params().size(), 1u);
  EXPECT_EQ(cls.params()[0].name, "class_token");
  EXPECT_EQ(cls.params()[0].shape, (Shape{1, 1, 16}));
  EXPECT_EQ(cls.params()[0].init, nn::ParamInit::Zeros);
  nn::PositionEmbedding pos("encoder", 13, 16);
  EXPECT_EQ(pos.setup(Shape{2, 13, 16}), (Shape{2, 13, 16}));
  EXPECT_EQ(pos.param_scope(), "encoder");
  ASSERT_EQ(pos.params().size(), 1u);
  EXPECT_EQ(pos.params()[0].name, "pos_embedding");
  EXPECT_EQ(pos.params()[0].shape, (Shape{1, 13, 16}));
  EXPECT_EQ(pos.params()[0].init, nn::ParamInit::Normal);
  EXPECT_FLOAT_EQ(pos.params()[0].scale, 0.02f);
  EXPECT_EQ(pos.aliasing(), nn::Aliasing::InPlace);
  nn::SelectToken sel("select");
  EXPECT_EQ(sel.setup(Shape{2, 13, 16}), (Shape{2, 16}));
  EXPECT_EQ(nn::qualified_name("", "class_token"), "class_token");
  EXPECT_EQ(nn::qualified_name("encoder", "pos_embedding"), "encoder.pos_embedding");
}

// patches -> class token -> position embedding -> select -> head, for the initialisation and
// naming checks.
std::unique_ptr<nn::Graph> token_graph(int64_t d, int64_t t) {
  auto g = std::make_unique<nn::Graph>();
  g->add<nn::PatchTokens>("patches");
  g->add<nn::ClassToken>("class_token", d);
  g->add<nn::PositionEmbedding>("encoder", t + 1, d);
  g->add<nn::SelectToken>("select");
  g->add<nn::Linear>("heads.head", d, 3);
  return g;
}

TEST(TokenLayers, InitialisationUnderEveryScheme) {
  Context ctx;
  const int64_t d = 64, t = 64;
  std::vector<float> first;
  for (init::InitScheme scheme : {init::InitScheme::PyTorchDefault, init::InitScheme::XavierUniform,
                                  init::InitScheme::KaimingNormal}) {
    auto g = token_graph(d, t);
    g->build(ctx, Shape{d, 8, 8}, 2, 3);
    g->initialize(ctx, scheme, 1234);
    const auto params = g->named_parameters();
    ASSERT_EQ(params[0].name, "class_token");
    for (float v : params[0].tensor.to_vector()) EXPECT_EQ(v, 0.0f);
    ASSERT_EQ(params[1].name, "encoder.pos_embedding");
    const std::vector<float> pos = params[1].tensor.to_vector();
    double sum = 0.0, sq = 0.0;
    for (float v : pos) {
      sum += v;
      sq += static_cast<double>(v) * v;
    }
    const double count = static_cast<double>(pos.size());  // 4160
    const double mean = sum / count, sd = std::sqrt(sq / count - mean * mean);
    // N(0, 0.02^2): the sample mean within 5 standard errors, the deviation within 10%.
    EXPECT_NEAR(mean, 0.0, 5 * 0.02 / std::sqrt(count));
    EXPECT_NEAR(sd, 0.02, 0.002);
    // The scheme does not touch it.
    if (first.empty()) first = pos;
    EXPECT_TRUE(test::same_bits(first, pos));
  }
}

TEST(TokenLayers, TwoTopLevelParametersOfOneNameAreRefused) {
  nn::Graph g;
  g.add<nn::PatchTokens>("patches");
  g.add<nn::ClassToken>("class_token", 4);
  g.add<nn::ClassToken>("class_token_again", 4);
  g.add<nn::SelectToken>("select");
  g.add<nn::Linear>("head", 4, 2);
  test::expect_error(
      [&] {
        g.plan(Shape{4, 2, 2}, 2, 2);
      },
      "graph: two parameters or buffers named 'class_token' (layer "
      "class_token_again)");
}

TEST(TokenErrors, OpsAndLayers) {
  Context ctx;
  using test::expect_error;
  const Tensor x = Tensor::zeros(Shape{2, 3, 4});
  Tensor y_bad = Tensor::zeros(Shape{2, 3, 4});
  expect_error(
      [&] {
        ops::class_token_forward(ctx, x, Tensor::zeros(Shape{1, 1, 5}), y_bad);
      },
      "class_token: token has shape [1, 1, 5], expected [1, 1, 4]");
  expect_error(
      [&] {
        ops::class_token_forward(ctx, x, Tensor::zeros(Shape{1, 1, 4}), y_bad);
      },
      "class_token: output has shape [2, 3, 4], expected [2, 4, 4]");
  Tensor y = Tensor::zeros(Shape{2, 3, 4});
  expect_error(
      [&] {
        ops::position_embedding_forward(ctx, x, Tensor::zeros(Shape{1, 4, 4}), y);
      },
      "position_embedding: pos_embedding has shape [1, 4, 4], expected [1, 3, 4]");
  Tensor sel = Tensor::zeros(Shape{2, 4});
  expect_error([&] { ops::select_token_forward(ctx, x, 3, sel); },
               "select_token: token 3 out of range for input [2, 3, 4]");
  Tensor tokens = Tensor::zeros(Shape{2, 6, 3});
  expect_error(
      [&] {
        ops::patch_tokens_forward(ctx, Tensor::zeros(Shape{2, 3, 2, 2}), tokens);
      },
      "patch_tokens: output has shape [2, 6, 3], expected [2, 4, 3]");
  expect_error([&] { ops::patch_tokens_forward(ctx, x, tokens); },
               "patch_tokens: input must have 4 dimensions, got [2, 3, 4]");
  Tensor dx = Tensor::zeros(Shape{2, 3, 4});
  expect_error(
      [&] {
        ops::class_token_backward(ctx, Tensor::zeros(Shape{2, 1, 4}), &dx, nullptr);
      },
      "class_token_backward: grad_output [2, 1, 4] must hold the class token and at "
      "least one more");

  expect_error([] { nn::ClassToken("class_token", 0); },
               "ClassToken 'class_token': hidden_dim must be at least 1, got 0");
  expect_error([] { nn::PositionEmbedding("encoder", 5, 4, -1.0f); },
               "PositionEmbedding 'encoder': std must not be negative, got -1");
  nn::ClassToken cls("class_token", 8);
  expect_error(
      [&] {
        cls.setup(Shape{2, 5, 7});
      },
      "ClassToken: input [2, 5, 7] has 7 features, hidden_dim is 8");
  nn::PositionEmbedding pos("encoder", 5, 8);
  expect_error(
      [&] {
        pos.setup(Shape{2, 4, 8});
      },
      "PositionEmbedding: input [2, 4, 8] has 4 tokens, seq_length is 5");
  nn::SelectToken select("select", 2);
  expect_error(
      [&] {
        select.setup(Shape{2, 2, 8});
      },
      "SelectToken: token 2 out of range for input [2, 2, 8]");
  nn::PatchTokens patches("patches");
  expect_error(
      [&] {
        patches.setup(Shape{2, 8, 4});
      },
      "PatchTokens: expected [N, D, h, w], got [2, 8, 4]");
}

}  // namespace
}  // namespace kestrel
