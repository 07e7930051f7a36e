// Per-group learning rates in the fused optimizer update (optim::ParamGroups::lr_scale): SGD,
// Adam and AdamW with a random per-element index over 3 and 4 groups of different rate and
// weight-decay scales against float64 references of torch.optim with those param_groups
// (group k: lr * lr_scale[k], weight_decay * weight_decay_scale[k]), written here as plain
// loops; an empty lr_scale and one of all 1s give the bits of no groups; set_group_lr_scale
// takes effect at the next prepared step; a group at rate 0 does not move; bad scales are
// refused.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <functional>
#include <limits>
#include <ostream>
#include <random>
#include <string>
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

// Eight steps each round p (|p| < ~1.5) once, half an ulp of 1 (6e-8) or so every time: an
// element that ends near zero has carried up to ~5e-7 of absolute error from its larger past.
// A group at a wrong rate misses by the order of its updates, 1e-3 and more.
constexpr double kRtol = 1e-6;
constexpr double kAtol = 1e-6;

std::vector<uint8_t> random_groups(int64_t n, int groups, std::mt19937_64& gen) {
  std::vector<uint8_t> g(static_cast<size_t>(n));
  for (auto& v : g) v = static_cast<uint8_t>(gen() % static_cast<uint64_t>(groups));
  return g;
}

Tensor index_tensor(const std::vector<uint8_t>& g) {
  Tensor t = Tensor::empty(Shape{static_cast<int64_t>(g.size())}, DType::U8);
  std::memcpy(t.data<uint8_t>(), g.data(), g.size());
  return t;
}

// `count` scales uniform in [lo, hi).
std::vector<double> random_scales(int count, double lo, double hi, std::mt19937_64& gen) {
  std::uniform_real_distribution<double> u(lo, hi);
  std::vector<double> s(static_cast<size_t>(count));
  for (double& v : s) v = u(gen);
  return s;
}

// One group's hyperparameters as torch holds them: Python floats (double).
struct GroupHyper {
  double lr, wd;
};

std::vector<GroupHyper> hyper(double lr, double wd, const std::vector<double>& lr_scale,
                              const std::vector<double>& wd_scale) {
  std::vector<GroupHyper> h;
  for (size_t k = 0; k < wd_scale.size(); ++k) h.push_back({lr * lr_scale[k], wd * wd_scale[k]});
  return h;
}

// torch.optim.SGD over param_groups `h`; element i is in group[i]. The rate reaches the f32
// kernel rounded to f32 (param.add_(buf, alpha=-lr)), so the reference takes it rounded too.
void sgd_ref(const SgdOptions& o, const std::vector<GroupHyper>& h, std::vector<double>& p,
             std::vector<double>& buf, const std::vector<double>& grad,
             const std::vector<uint8_t>& group) {
  const bool first = buf.empty();
  if (first) buf.assign(p.size(), 0.0);
  for (size_t i = 0; i < p.size(); ++i) {
    const GroupHyper& g_h = h[group[i]];
    double g = grad[i] + static_cast<double>(static_cast<float>(g_h.wd)) * p[i];
    buf[i] = first ? g : o.momentum * buf[i] + (1.0 - o.dampening) * g;
    g = o.nesterov ? g + o.momentum * buf[i] : buf[i];
    p[i] -= static_cast<double>(static_cast<float>(g_h.lr)) * g;
  }
}

// torch.optim.Adam / AdamW over param_groups `h` at step t (1-based).
void adam_ref(const AdamOptions& o, const std::vector<GroupHyper>& h, int64_t t,
              std::vector<double>& p, std::vector<double>& m, std::vector<double>& v,
              const std::vector<double>& grad, const std::vector<uint8_t>& group) {
  if (m.empty()) m.assign(p.size(), 0.0), v.assign(p.size(), 0.0);
  const double b1 = o.beta1, b2 = o.beta2;
  const double bc1 = 1.0 - std::pow(b1, static_cast<double>(t));
  const double bc2 = 1.0 - std::pow(b2, static_cast<double>(t));
  for (size_t i = 0; i < p.size(); ++i) {
    const GroupHyper& g_h = h[group[i]];
    const double wd = static_cast<float>(g_h.wd);
    double g = grad[i];
    if (wd != 0.0) {
      // AdamW's factor reaches the f32 kernel rounded to f32, as in optim_test.cpp.
      if (o.decoupled)
        p[i] *= static_cast<float>(1.0 - g_h.lr * g_h.wd);
      else
        g += wd * p[i];
    }
    m[i] = b1 * m[i] + (1.0 - b1) * g;
    v[i] = b2 * v[i] + (1.0 - b2) * g * g;
    p[i] -= (g_h.lr / bc1) * m[i] / (std::sqrt(v[i]) / std::sqrt(bc2) + o.eps);
  }
}

class SgdGroupLrTest : public ::testing::TestWithParam<int> {};

TEST_P(SgdGroupLrTest, MatchesTorchParamGroupsReference) {
  const int groups = GetParam();
  std::mt19937_64 gen(test::test_seed() + static_cast<uint64_t>(groups));
  const int64_t n = 2053;
  SgdOptions o;
  o.lr = 0.01f;
  o.momentum = 0.9f;
  o.nesterov = true;
  o.weight_decay = 0.02f;
  Sgd opt(o);
  const std::vector<uint8_t> index = random_groups(n, groups, gen);
  // Rates up to 0.05, as optim_param_groups_test.cpp's.
  const std::vector<double> lr_scale = random_scales(groups, 0.2, 5.0, gen);
  const std::vector<double> wd_scale = random_scales(groups, 0.0, 3.0, gen);
  opt.set_param_groups({index_tensor(index), wd_scale, lr_scale});
  Context ctx;
  Tensor params = test::random_tensor(Shape{n}, gen);
  std::vector<double> expected = test::to_double(params), buf;
  const auto h = hyper(o.lr, o.weight_decay, lr_scale, wd_scale);
  for (int s = 0; s < 8; ++s) {
    const Tensor grads = test::random_tensor(Shape{n}, gen);
    opt.step(ctx, params, grads);
    sgd_ref(o, h, expected, buf, test::to_double(grads), index);
  }
  EXPECT_TRUE(test::all_close(expected, params, kRtol, kAtol));
}

INSTANTIATE_TEST_SUITE_P(ThreeAndFourGroups, SgdGroupLrTest, ::testing::Values(3, 4));

struct AdamCase {
  bool decoupled;
  int groups;
};

void PrintTo(const AdamCase& c, std::ostream* os) {
  *os << (c.decoupled ? "AdamW" : "Adam") << " with " << c.groups << " groups";
}

class AdamGroupLrTest : public ::testing::TestWithParam<AdamCase> {};

TEST_P(AdamGroupLrTest, MatchesTorchParamGroupsReference) {
  const AdamCase c = GetParam();
  std::mt19937_64 gen(test::test_seed() + 10 + static_cast<uint64_t>(c.groups) +
                      (c.decoupled ? 100 : 0));
  const int64_t n = 2053;
  AdamOptions o;
  o.lr = 3e-3f;
  o.weight_decay = 0.05f;
  o.decoupled = c.decoupled;
  Adam opt(o);
  const std::vector<uint8_t> index = random_groups(n, c.groups, gen);
  const std::vector<double> lr_scale = random_scales(c.groups, 0.1, 8.0, gen);
  const std::vector<double> wd_scale = random_scales(c.groups, 0.0, 3.0, gen);
  opt.set_param_groups({index_tensor(index), wd_scale, lr_scale});
  Context ctx;
  Tensor params = test::random_tensor(Shape{n}, gen);
  std::vector<double> expected = test::to_double(params), m, v;
  const auto h = hyper(o.lr, o.weight_decay, lr_scale, wd_scale);
  for (int s = 1; s <= 8; ++s) {
    const Tensor grads = test::random_tensor(Shape{n}, gen);
    opt.step(ctx, params, grads);
    adam_ref(o, h, s, expected, m, v, test::to_double(grads), index);
  }
  EXPECT_TRUE(test::all_close(expected, params, kRtol, kAtol));
}

INSTANTIATE_TEST_SUITE_P(AdamAndAdamW, AdamGroupLrTest,
                         ::testing::Values(AdamCase{false, 3}, AdamCase{false, 4},
                                           AdamCase{true, 3}, AdamCase{true, 4}),
                         [](const auto& test_info) {
                           std::string name = test_info.param.decoupled ? "AdamW" : "Adam";
                           name += std::to_string(test_info.param.groups);
                           return name + "Groups";
                         });

// The references above would pass with the scales ignored if they did not matter: a rate
// scale of 4 in one group moves that group's elements further than scale 1 does.
TEST(GroupLearningRates, TheScaleChangesTheUpdate) {
  std::mt19937_64 gen(test::test_seed() + 20);
  const int64_t n = 257;
  const AdamOptions o = AdamOptions::adamw(1e-2f, 0.1f);
  const std::vector<uint8_t> index = random_groups(n, 2, gen);
  Adam scaled(o), plain(o);
  scaled.set_param_groups({index_tensor(index), {1.0, 1.0}, {1.0, 4.0}});
  plain.set_param_groups({index_tensor(index), {1.0, 1.0}});
  Context ctx;
  const Tensor start = test::random_tensor(Shape{n}, gen);
  Tensor a = Tensor::empty(Shape{n}), b = Tensor::empty(Shape{n});
  a.copy_from(start);
  b.copy_from(start);
  const Tensor g = test::random_tensor(Shape{n}, gen);
  scaled.step(ctx, a, g);
  plain.step(ctx, b, g);
  const std::vector<float> s0 = start.to_vector(), va = a.to_vector(), vb = b.to_vector();
  for (int64_t i = 0; i < n; ++i) {
    const auto u = static_cast<size_t>(i);
    if (index[u] == 0) {
      EXPECT_EQ(va[u], vb[u]) << i;
    } else {
      EXPECT_GT(std::fabs(va[u] - s0[u]), std::fabs(vb[u] - s0[u])) << i;
    }
  }
}

// `make` gives a fresh optimizer; `configure` sets its groups. Five steps from the same
// parameters and gradients: the bits of every configured optimizer equal the first's.
template <class Opt, class Options>
void expect_same_bits(const Options& o, uint64_t seed,
                      const std::vector<std::function<void(Opt&)>>& configure) {
  std::mt19937_64 gen(seed);
  const int64_t n = 513;
  const Tensor start = test::random_tensor(Shape{n}, gen);
  std::vector<Tensor> grads;
  for (int s = 0; s < 5; ++s) grads.push_back(test::random_tensor(Shape{n}, gen));
  std::vector<std::vector<float>> results;
  for (const auto& setup : configure) {
    Opt opt(o);
    setup(opt);
    Context ctx;
    Tensor p = Tensor::empty(Shape{n});
    p.copy_from(start);
    for (const Tensor& g : grads) opt.step(ctx, p, g);
    results.push_back(p.to_vector());
  }
  for (size_t r = 1; r < results.size(); ++r) {
    SCOPED_TRACE("configuration " + std::to_string(r));
    EXPECT_EQ(std::memcmp(results[0].data(), results[r].data(), results[0].size() * 4), 0);
  }
}

// Without rate scales, with an empty lr_scale and with all of them 1 the update is the same,
// bit for bit: the rates only joined the step scalars. (optim_test.cpp checks the ungrouped
// update against torch's float operation order bitwise.)
template <class Opt, class Options>
void expect_unit_rate_scales_are_bitwise_no_scales(const Options& o, uint64_t seed) {
  std::mt19937_64 gen(seed);
  const std::vector<uint8_t> index = random_groups(513, 3, gen);
  const std::vector<double> wd = random_scales(3, 0.0, 3.0, gen);
  expect_same_bits<Opt>(o, seed + 1,
                        {[&](Opt& opt) {
                           opt.set_param_groups({index_tensor(index), wd});
                         },
                         [&](Opt& opt) {
                           opt.set_param_groups({index_tensor(index), wd, {}});
                         },
                         [&](Opt& opt) {
                           opt.set_param_groups({index_tensor(index), wd, {1.0, 1.0, 1.0}});
                         },
                         [&](Opt& opt) {
                           opt.set_param_groups({index_tensor(index), wd});
                           opt.set_group_lr_scale(2, 1.0);
                         }});
  expect_same_bits<Opt>(
      o, seed + 2,
      {[](Opt&) {}, [](Opt& opt) { opt.set_group_lr_scale(0, 1.0); },
       [&](Opt& opt) {
         opt.set_param_groups({index_tensor(std::vector<uint8_t>(513, 0)), {1.0}, {1.0}});
       }});
}

TEST(GroupLearningRates, UnitScalesAreBitwiseTheUpdateWithoutScales) {
  SgdOptions s;
  s.lr = 0.1f;
  s.momentum = 0.9f;
  s.nesterov = true;
  s.weight_decay = 5e-4f;
  expect_unit_rate_scales_are_bitwise_no_scales<Sgd>(s, test::test_seed() + 30);
  expect_unit_rate_scales_are_bitwise_no_scales<Adam>(AdamOptions::adamw(3e-3f, 5e-4f),
                                                      test::test_seed() + 40);
  AdamOptions l2;
  l2.weight_decay = 1e-3f;
  expect_unit_rate_scales_are_bitwise_no_scales<Adam>(l2, test::test_seed() + 50);
}

// A scale of 1/2 on the one implicit group is the optimizer at half the rate (exact in f32):
// the same bits.
TEST(GroupLearningRates, HalfTheRateByScaleIsHalfTheRate) {
  SgdOptions s;
  s.lr = 0.1f;
  s.momentum = 0.9f;
  s.weight_decay = 5e-4f;
  SgdOptions half = s;
  half.lr = 0.05f;
  expect_same_bits<Sgd>(
      s, test::test_seed() + 60,
      {[&](Sgd& opt) { opt.set_lr(half.lr); }, [](Sgd& opt) { opt.set_group_lr_scale(0, 0.5); }});
  const AdamOptions a = AdamOptions::adamw(4e-3f, 0.05f);
  expect_same_bits<Adam>(
      a, test::test_seed() + 70,
      {[](Adam& opt) { opt.set_lr(2e-3f); }, [](Adam& opt) { opt.set_group_lr_scale(0, 0.5); }});
}

// SGD with momentum over three groups; after step 3 group 1's scale changes (set between
// prepare_step and apply_step of step 4 it applies from step 5: a prepared step keeps its
// rates).
TEST(GroupLearningRates, SetGroupLrScaleTakesEffectAtTheNextPreparedStep) {
  std::mt19937_64 gen(test::test_seed() + 80);
  const int64_t n = 1031;
  SgdOptions o;
  o.lr = 0.05f;
  o.momentum = 0.9f;
  o.weight_decay = 0.01f;
  Sgd opt(o);
  const std::vector<uint8_t> index = random_groups(n, 3, gen);
  std::vector<double> lr_scale = {1.0, 2.5, 0.3};
  const std::vector<double> wd_scale = {1.0, 0.5, 0.0};
  opt.set_param_groups({index_tensor(index), wd_scale, lr_scale});
  Context ctx;
  Tensor params = test::random_tensor(Shape{n}, gen);
  std::vector<double> expected = test::to_double(params), buf;
  for (int s = 1; s <= 6; ++s) {
    const Tensor grads = test::random_tensor(Shape{n}, gen);
    opt.prepare_step(ctx, params, grads);
    if (s == 4) opt.set_group_lr_scale(1, 0.125);
    opt.apply_step(ctx, params, grads);
    sgd_ref(o, hyper(o.lr, o.weight_decay, lr_scale, wd_scale), expected, buf,
            test::to_double(grads), index);
    if (s == 4) lr_scale[1] = 0.125;
  }
  EXPECT_EQ(opt.param_groups().lr_scale, lr_scale);
  EXPECT_TRUE(test::all_close(expected, params, kRtol, kAtol));
}

// A group at rate 0 keeps its parameters bit for bit (its state still follows the gradient,
// as torch's does at lr 0) while the others move; SGD with weight decay and momentum, Adam and
// AdamW.
template <class Opt, class Options>
void expect_rate_zero_group_does_not_move(const Options& o, uint64_t seed) {
  std::mt19937_64 gen(seed);
  const int64_t n = 777;
  const std::vector<uint8_t> index = random_groups(n, 3, gen);
  Opt opt(o);
  opt.set_param_groups({index_tensor(index), {1.0, 2.0, 1.0}, {1.0, 0.0, 3.0}});
  Context ctx;
  Tensor p = test::random_tensor(Shape{n}, gen);
  const std::vector<float> start = p.to_vector();
  for (int s = 0; s < 4; ++s) opt.step(ctx, p, test::random_tensor(Shape{n}, gen));
  const std::vector<float> end = p.to_vector();
  for (size_t i = 0; i < end.size(); ++i) {
    if (index[i] == 1) {
      ASSERT_EQ(std::memcmp(&end[i], &start[i], 4), 0) << i;
    } else {
      ASSERT_NE(end[i], start[i]) << i;
    }
  }
}

TEST(GroupLearningRates, AGroupAtRateZeroDoesNotMove) {
  SgdOptions s;
  s.lr = 0.1f;
  s.momentum = 0.9f;
  s.nesterov = true;
  s.weight_decay = 0.01f;
  expect_rate_zero_group_does_not_move<Sgd>(s, test::test_seed() + 90);
  expect_rate_zero_group_does_not_move<Adam>(AdamOptions::adamw(1e-2f, 0.1f),
                                             test::test_seed() + 91);
  AdamOptions l2;
  l2.lr = 1e-2f;
  l2.weight_decay = 0.1f;
  expect_rate_zero_group_does_not_move<Adam>(l2, test::test_seed() + 92);
}

TEST(GroupLearningRates, RejectsBadScalesAndGroups) {
  Sgd opt(SgdOptions{});
  const double nan = std::numeric_limits<double>::quiet_NaN();
  const double inf = std::numeric_limits<double>::infinity();
  const auto groups = [](std::vector<double> lr) {
    return ParamGroups{index_tensor({0, 1}), {1.0, 1.0}, std::move(lr)};
  };
  test::expect_error([&] { opt.set_param_groups(groups({1.0})); },
                     "1 learning-rate scales for 2 parameter groups");
  test::expect_error(
      [&] {
        opt.set_param_groups(groups({1.0, -0.5}));
      },
      "invalid learning-rate scale -0.5 (must be >= 0)");
  test::expect_error(
      [&] {
        opt.set_param_groups(groups({nan, 1.0}));
      },
      "invalid learning-rate scale nan");
  test::expect_error(
      [&] {
        opt.set_param_groups(groups({1.0, inf}));
      },
      "invalid learning-rate scale inf");
  test::expect_error([&] { opt.set_group_lr_scale(1, 2.0); },
                     "sgd: no parameter group 1 (there are 1)");
  opt.set_param_groups(groups({1.0, 2.0}));
  test::expect_error([&] { opt.set_group_lr_scale(2, 2.0); }, "no parameter group 2 (there are 2)");
  test::expect_error([&] { opt.set_group_lr_scale(-1, 2.0); }, "no parameter group -1");
  test::expect_error([&] { opt.set_group_lr_scale(0, -1.0); },
                     "sgd: invalid learning-rate scale -1 for group 0 (must be >= 0)");
  test::expect_error([&] { opt.set_group_lr_scale(0, nan); }, "invalid learning-rate scale nan");
  // A refused scale leaves the groups as they were.
  EXPECT_EQ(opt.param_groups().lr_scale, (std::vector<double>{1.0, 2.0}));
}

}  // namespace
}  // namespace kestrel
