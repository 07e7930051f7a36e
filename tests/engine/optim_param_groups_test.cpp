// Parameter groups in the fused optimizer update (optim::ParamGroups): SGD, Adam and AdamW
// with a random per-element group index against float64 references of PyTorch's update with
// two param_groups ({"weight_decay": wd} and {"weight_decay": 0}), written here as plain loops;
// a one-group index with scale 1 gives exactly the bits of no index; bad groups are refused.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>
#include <vector>

#include "engine/optim/adam.hpp"
#include "engine/optim/sgd.hpp"
#include "tests/support/compare.hpp"
#include "tests/support/errors.hpp"
#include "tests/support/random.hpp"

namespace kestrel {
namespace {

using optim::Adam;
using optim::AdamOptions;
using optim::ParamGroups;
using optim::Sgd;
using optim::SgdOptions;

constexpr double kRtol = 1e-6;
constexpr double kAtol = 1e-7;

// A random 0/1 group per element (both groups well populated).
std::vector<uint8_t> random_groups(int64_t n, std::mt19937_64& gen) {
  std::vector<uint8_t> g(static_cast<size_t>(n));
  for (auto& v : g) v = static_cast<uint8_t>(gen() & 1u);
  return g;
}

Tensor index_tensor(const std::vector<uint8_t>& g) {
  Tensor t = Tensor::empty(Shape{static_cast<int64_t>(g.size())}, DType::U8);
  std::memcpy(t.data<uint8_t>(), g.data(), g.size());
  return t;
}

// torch.optim.SGD with param_groups [{"weight_decay": wd}, {"weight_decay": 0}].
void sgd_two_groups(const SgdOptions& o, std::vector<double>& p, std::vector<double>& buf,
                    const std::vector<double>& grad, const std::vector<uint8_t>& group) {
  const bool first = buf.empty();
  if (first) buf.assign(p.size(), 0.0);
  for (size_t i = 0; i < p.size(); ++i) {
    const double wd = group[i] == 0 ? o.weight_decay : 0.0;
    double g = grad[i] + wd * p[i];
    buf[i] = first ? g : o.momentum * buf[i] + (1.0 - o.dampening) * g;
    g = o.nesterov ? g + o.momentum * buf[i] : buf[i];
    p[i] -= static_cast<double>(o.lr) * g;
  }
}

// torch.optim.Adam / AdamW with the same two groups.
void adam_two_groups(const AdamOptions& o, int64_t t, std::vector<double>& p,
                     std::vector<double>& m, std::vector<double>& v,
                     const std::vector<double>& grad, const std::vector<uint8_t>& group) {
  if (m.empty()) m.assign(p.size(), 0.0), v.assign(p.size(), 0.0);
  const double lr = o.lr, b1 = o.beta1, b2 = o.beta2;
  const double bc1 = 1.0 - std::pow(b1, static_cast<double>(t));
  const double bc2 = 1.0 - std::pow(b2, static_cast<double>(t));
  for (size_t i = 0; i < p.size(); ++i) {
    const double wd = group[i] == 0 ? static_cast<double>(o.weight_decay) : 0.0;
    double g = grad[i];
    if (wd != 0.0) {
      // AdamW's factor reaches the f32 kernel rounded to f32, as in optim_test.cpp.
      if (o.decoupled)
        p[i] *= static_cast<float>(1.0 - lr * wd);
      else
        g += wd * p[i];
    }
    m[i] = b1 * m[i] + (1.0 - b1) * g;
    v[i] = b2 * v[i] + (1.0 - b2) * g * g;
    p[i] -= (lr / bc1) * m[i] / (std::sqrt(v[i]) / std::sqrt(bc2) + o.eps);
  }
}

TEST(ParamGroups, SgdNesterovMatchesTorchTwoGroupReference) {
  std::mt19937_64 gen(test::test_seed());
  const int64_t n = 1031;
  SgdOptions o;
  o.lr = 0.05f;
  o.momentum = 0.9f;
  o.nesterov = true;
  o.weight_decay = 0.05f;  // large, so that a decay applied to the wrong group shows
  Sgd opt(o);
  const std::vector<uint8_t> groups = random_groups(n, gen);
  opt.set_param_groups({index_tensor(groups), {1.0, 0.0}});
  Context ctx;
  Tensor params = test::random_tensor(Shape{n}, gen);
  std::vector<double> expected = test::to_double(params), buf;
  for (int s = 0; s < 8; ++s) {
    const Tensor grads = test::random_tensor(Shape{n}, gen);
    opt.step(ctx, params, grads);
    sgd_two_groups(o, expected, buf, test::to_double(grads), groups);
  }
  EXPECT_TRUE(test::all_close(expected, params, kRtol, kAtol));
}

class AdamGroupsTest : public ::testing::TestWithParam<bool> {};

TEST_P(AdamGroupsTest, MatchesTorchTwoGroupReference) {
  std::mt19937_64 gen(test::test_seed() + 1);
  const int64_t n = 1031;
  AdamOptions o;
  o.lr = 1e-2f;
  o.weight_decay = 0.1f;
  o.decoupled = GetParam();
  Adam opt(o);
  const std::vector<uint8_t> groups = random_groups(n, gen);
  opt.set_param_groups({index_tensor(groups), {1.0, 0.0}});
  Context ctx;
  Tensor params = test::random_tensor(Shape{n}, gen);
  std::vector<double> expected = test::to_double(params), m, v;
  for (int s = 1; s <= 8; ++s) {
    const Tensor grads = test::random_tensor(Shape{n}, gen);
    opt.step(ctx, params, grads);
    adam_two_groups(o, s, expected, m, v, test::to_double(grads), groups);
  }
  EXPECT_TRUE(test::all_close(expected, params, kRtol, kAtol));
}

INSTANTIATE_TEST_SUITE_P(AdamAndAdamW, AdamGroupsTest, ::testing::Bool(),
                         [](const auto& test_info) { return test_info.param ? "AdamW" : "Adam"; });

// Without the groups the run is the reference's with every element decayed: the two differ,
// so the test above could not pass with the index ignored.
TEST(ParamGroups, TheNoDecayGroupChangesTheResult) {
  std::mt19937_64 gen(test::test_seed() + 2);
  const int64_t n = 257;
  const AdamOptions o = AdamOptions::adamw(1e-2f, 0.1f);
  Adam with(o), without(o);
  with.set_param_groups({index_tensor(random_groups(n, gen)), {1.0, 0.0}});
  Context ctx;
  Tensor a = test::random_tensor(Shape{n}, gen);
  Tensor b = Tensor::empty(Shape{n});
  b.copy_from(a);
  const Tensor g = test::random_tensor(Shape{n}, gen);
  with.step(ctx, a, g);
  without.step(ctx, b, g);
  EXPECT_NE(a.to_vector(), b.to_vector());
}

// One group of scale 1 through the index is bit for bit the update without an index.
template <class Opt, class Options>
void expect_one_group_is_no_groups(const Options& o, uint64_t seed) {
  std::mt19937_64 gen(seed);
  const int64_t n = 513;
  Opt grouped(o), plain(o);
  grouped.set_param_groups({index_tensor(std::vector<uint8_t>(n, 0)), {1.0}});
  Context ctx;
  Tensor a = test::random_tensor(Shape{n}, gen);
  Tensor b = Tensor::empty(Shape{n});
  b.copy_from(a);
  for (int s = 0; s < 5; ++s) {
    const Tensor g = test::random_tensor(Shape{n}, gen);
    grouped.step(ctx, a, g);
    plain.step(ctx, b, g);
  }
  EXPECT_EQ(std::memcmp(a.data<float>(), b.data<float>(), static_cast<size_t>(n) * 4), 0);
}

TEST(ParamGroups, OneGroupOfScaleOneIsBitwiseNoGroups) {
  SgdOptions s;
  s.lr = 0.1f;
  s.momentum = 0.9f;
  s.nesterov = true;
  s.weight_decay = 5e-4f;
  expect_one_group_is_no_groups<Sgd>(s, test::test_seed() + 3);
  expect_one_group_is_no_groups<Adam>(AdamOptions::adamw(3e-3f, 5e-4f), test::test_seed() + 4);
  AdamOptions l2;
  l2.weight_decay = 1e-3f;
  expect_one_group_is_no_groups<Adam>(l2, test::test_seed() + 5);
}

TEST(ParamGroups, RejectsBadGroups) {
  Sgd opt(SgdOptions{});
  const auto groups = [](std::vector<uint8_t> g, std::vector<double> scales) {
    return ParamGroups{index_tensor(g), std::move(scales)};
  };
  test::expect_error([&] { opt.set_param_groups(groups({0, 2}, {1.0, 0.0})); }, "group 2 of 2");
  test::expect_error([&] { opt.set_param_groups(groups({0}, {})); }, "0 parameter groups");
  test::expect_error(
      [&] {
        opt.set_param_groups(groups({0}, {1, 1, 1, 1, 1}));
      },
      "5 parameter groups");
  test::expect_error([&] { opt.set_param_groups(groups({0}, {-1.0})); },
                     "invalid weight decay scale");
  opt.set_param_groups(groups({0, 1}, {1.0, 0.0}));
  Context ctx;
  Tensor p = Tensor::zeros(Shape{3});
  test::expect_error([&] { opt.step(ctx, p, Tensor::zeros(Shape{3})); }, "does not cover");
}

}  // namespace
}  // namespace kestrel
