// SGD, Adam and AdamW against float64 references written here from torch.optim's formulas
// (plain loops, no shared code with the functors), a few hand-computed steps, a bitwise check
// of the f32 operation order that torch's CPU kernels use, state handling and argument errors.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "engine/optim/adam.hpp"
#include "engine/optim/sgd.hpp"
#include "kernels/cpu/parallel.hpp"
#include "tests/support/compare.hpp"
#include "tests/support/errors.hpp"
#include "tests/support/random.hpp"

namespace kestrel {
namespace {

using optim::Adam;
using optim::AdamOptions;
using optim::Sgd;
using optim::SgdOptions;

// f32 result vs float64 reference. Every step rounds p once (half an ulp of |p|) and the
// update carries a few ulps of lr, so 10 steps stay well inside rtol 1e-6 plus an atol of
// 1e-7 for elements near zero.
constexpr double kRtol = 1e-6;
constexpr double kAtol = 1e-7;

// ---- float64 references -------------------------------------------------------------------

struct AdamRef {
  AdamOptions o;
  std::vector<double> m, v;
  int64_t t = 0;

  void step(std::vector<double>& p, const std::vector<double>& grad) {
    if (m.empty()) m.assign(p.size(), 0.0), v.assign(p.size(), 0.0);
    ++t;
    const double lr = o.lr, b1 = o.beta1, b2 = o.beta2, eps = o.eps, wd = o.weight_decay;
    const double bc1 = 1.0 - std::pow(b1, static_cast<double>(t));
    const double bc2 = 1.0 - std::pow(b2, static_cast<double>(t));
    // AdamW's factor 1 - lr*wd reaches the f32 kernel rounded to f32 (as in torch's
    // param.mul_(1 - lr*wd)); that rounding is up to 3e-8 relative and compounds step after
    // step, so the reference takes the same rounded factor, like it takes the f32 lr.
    const double decay = static_cast<float>(1.0 - lr * wd);
    for (size_t i = 0; i < p.size(); ++i) {
      double g = grad[i];
      if (o.decoupled) {
        p[i] *= decay;
      } else {
        g += wd * p[i];
      }
      m[i] = b1 * m[i] + (1.0 - b1) * g;
      v[i] = b2 * v[i] + (1.0 - b2) * g * g;
      const double denom = std::sqrt(v[i]) / std::sqrt(bc2) + eps;
      p[i] -= (lr / bc1) * m[i] / denom;
    }
  }
};

struct SgdRef {
  SgdOptions o;
  std::vector<double> buf;

  void step(std::vector<double>& p, const std::vector<double>& grad) {
    const double lr = o.lr, mom = o.momentum, damp = o.dampening, wd = o.weight_decay;
    const bool first = buf.empty();
    if (first) buf.assign(p.size(), 0.0);
    for (size_t i = 0; i < p.size(); ++i) {
      double g = grad[i] + wd * p[i];
      if (mom != 0.0) {
        buf[i] = first ? g : mom * buf[i] + (1.0 - damp) * g;
        g = o.nesterov ? g + mom * buf[i] : buf[i];
      }
      p[i] -= lr * g;
    }
  }
};

// Runs `steps` steps of `opt` and `ref` from the same random start with fresh random
// gradients each step, and compares parameters (and optionally state) after the last.
template <class Optimizer, class Reference>
void run_and_compare(Optimizer& opt, Reference& ref, int64_t n, int steps, uint64_t seed) {
  std::mt19937_64 gen(seed);
  Context ctx;
  Tensor params = test::random_tensor(Shape{n}, gen);
  std::vector<double> expected = test::to_double(params);
  for (int s = 0; s < steps; ++s) {
    const Tensor grads = test::random_tensor(Shape{n}, gen);
    opt.step(ctx, params, grads);
    ref.step(expected, test::to_double(grads));
  }
  EXPECT_EQ(opt.step_count(), steps);
  EXPECT_TRUE(test::all_close(expected, params, kRtol, kAtol)) << "after " << steps << " steps";
}

// ---- Adam and AdamW -----------------------------------------------------------------------

struct AdamCase {
  std::string name;
  AdamOptions options;
};

class AdamTest : public ::testing::TestWithParam<AdamCase> {};

TEST_P(AdamTest, Step1MatchesFloat64Reference) {
  Adam opt(GetParam().options);
  AdamRef ref{GetParam().options, {}, {}};
  run_and_compare(opt, ref, 1037, 1, test::test_seed());
}

TEST_P(AdamTest, Step10MatchesFloat64Reference) {
  Adam opt(GetParam().options);
  AdamRef ref{GetParam().options, {}, {}};
  run_and_compare(opt, ref, 1037, 10, test::test_seed() + 1);
}

TEST_P(AdamTest, MomentsMatchFloat64Reference) {
  std::mt19937_64 gen(test::test_seed() + 2);
  Context ctx;
  Adam opt(GetParam().options);
  AdamRef ref{GetParam().options, {}, {}};
  Tensor params = test::random_tensor(Shape{33}, gen);
  std::vector<double> p = test::to_double(params);
  for (int s = 0; s < 4; ++s) {
    const Tensor grads = test::random_tensor(Shape{33}, gen);
    opt.step(ctx, params, grads);
    ref.step(p, test::to_double(grads));
  }
  const auto state = opt.state();
  ASSERT_EQ(state.size(), 2u);
  EXPECT_EQ(state[0].first, "exp_avg");
  EXPECT_EQ(state[1].first, "exp_avg_sq");
  // m averages gradients of both signs, so it can cancel to near zero while keeping the
  // rounding of the gradient scale (|g| < 1): an atol of 1e-7, about two ulps of 1.
  EXPECT_TRUE(test::all_close(ref.m, state[0].second, 1e-6, 1e-7));
  EXPECT_TRUE(test::all_close(ref.v, state[1].second, 1e-6, 1e-10));
}

AdamOptions adam_options(float lr, float beta1, float beta2, float eps, float wd, bool decoupled) {
  AdamOptions o;
  o.lr = lr, o.beta1 = beta1, o.beta2 = beta2, o.eps = eps, o.weight_decay = wd;
  o.decoupled = decoupled;
  return o;
}

INSTANTIATE_TEST_SUITE_P(
    Options, AdamTest,
    ::testing::Values(
        AdamCase{"defaults", AdamOptions{}},
        AdamCase{"large_lr_and_eps", adam_options(0.05f, 0.8f, 0.99f, 1e-2f, 0.0f, false)},
        // beta1 < 0.5 takes lerp's other branch (weight 1 - beta1 >= 0.5).
        AdamCase{"small_beta1", adam_options(0.01f, 0.3f, 0.9f, 1e-8f, 0.0f, false)},
        AdamCase{"l2_weight_decay", adam_options(0.01f, 0.9f, 0.999f, 1e-8f, 0.1f, false)},
        AdamCase{"adamw_defaults", AdamOptions::adamw()},
        AdamCase{"adamw_strong_decay", adam_options(0.02f, 0.9f, 0.99f, 1e-6f, 0.5f, true)}),
    [](const auto& param_info) { return param_info.param.name; });

// Hand-computed: p = 1, g = 0.5, lr = 0.1, default betas. m = 0.05, v = 0.00025,
// m_hat = 0.5, v_hat = 0.25, so p = 1 - 0.1 * 0.5 / (0.5 + 1e-8) = 0.9 + 2e-9. In f32 the
// hyperparameters 0.1, 0.9, 0.999 are rounded, which moves the result by under one ulp.
TEST(Adam, HandComputedFirstStep) {
  Context ctx;
  AdamOptions o;
  o.lr = 0.1f;
  Adam opt(o);
  Tensor p = Tensor::from_vector(Shape{1}, std::vector<float>{1.0f});
  const Tensor g = Tensor::from_vector(Shape{1}, std::vector<float>{0.5f});
  opt.step(ctx, p, g);
  EXPECT_NEAR(p.to_vector()[0], 0.9, 6e-8);
}

// Hand-computed with hyperparameters that f32 holds exactly, so every operation is exact:
// beta1 = 0.5, beta2 = 0.75, lr = 0.25, eps = 0, p = 1, g = 0.5.
//   step 1: m = 0.25, v = 0.0625, bc1 = 0.5, bc2 = 0.25,
//           p = 1 - (0.25 / 0.5) * 0.25 / (0.25 / 0.5) = 0.75
//   step 2 (g = -0.5): m = -0.125, v = 0.109375, bc1 = 0.75, bc2 = 0.4375,
//           sqrt(v) / sqrt(bc2) = sqrt(0.25) = 0.5, p = 0.75 + (0.25 / 0.75) * 0.125 / 0.5
//           = 0.75 + 1/12 = 0.8333...
TEST(Adam, HandComputedExactSteps) {
  Context ctx;
  Adam opt(adam_options(0.25f, 0.5f, 0.75f, 0.0f, 0.0f, false));
  Tensor p = Tensor::from_vector(Shape{1}, std::vector<float>{1.0f});
  opt.step(ctx, p, Tensor::from_vector(Shape{1}, std::vector<float>{0.5f}));
  EXPECT_EQ(p.to_vector()[0], 0.75f);
  EXPECT_EQ(opt.state()[0].second.to_vector()[0], 0.25f);
  EXPECT_EQ(opt.state()[1].second.to_vector()[0], 0.0625f);
  opt.step(ctx, p, Tensor::from_vector(Shape{1}, std::vector<float>{-0.5f}));
  EXPECT_EQ(opt.state()[0].second.to_vector()[0], -0.125f);
  EXPECT_EQ(opt.state()[1].second.to_vector()[0], 0.109375f);
  EXPECT_NEAR(p.to_vector()[0], 0.75 + 1.0 / 12.0, 1e-7);
}

// AdamW by hand: p = 2, g = 0 at step 1 leaves the moments at zero, so the step is the decay
// alone: p = 2 * (1 - 0.5 * 0.25) = 1.75 (all exact in f32).
TEST(AdamW, HandComputedDecayOnly) {
  Context ctx;
  Adam opt(adam_options(0.5f, 0.5f, 0.75f, 1e-8f, 0.25f, true));
  Tensor p = Tensor::from_vector(Shape{1}, std::vector<float>{2.0f});
  opt.step(ctx, p, Tensor::from_vector(Shape{1}, std::vector<float>{0.0f}));
  EXPECT_EQ(p.to_vector()[0], 1.75f);
}

// torch's CPU kernels in f32, written out from ATen's source: add(alpha) and lerp are fused
// multiply-adds, addcmul is self + (c * a) * b, addcdiv is self + (c * a) / b, and the Python
// scalars are computed in double and rounded. The optimizer must give exactly these bits.
std::vector<float> torch_order_adam(const AdamOptions& o, std::vector<float> p,
                                    const std::vector<std::vector<float>>& grads) {
  std::vector<float> m(p.size(), 0.0f), v(p.size(), 0.0f);
  const double b1 = o.beta1, b2 = o.beta2, lr = o.lr, wd = o.weight_decay;
  const float w = static_cast<float>(1.0 - b1);
  for (size_t s = 0; s < grads.size(); ++s) {
    const double t = static_cast<double>(s + 1);
    const float step_size = static_cast<float>(lr / (1.0 - std::pow(b1, t)));
    const float bc2_sqrt = static_cast<float>(std::sqrt(1.0 - std::pow(b2, t)));
    for (size_t i = 0; i < p.size(); ++i) {
      float g = grads[s][i];
      if (wd != 0.0) {
        if (o.decoupled) {
          p[i] = p[i] * static_cast<float>(1.0 - lr * wd);
        } else {
          g = std::fma(p[i], o.weight_decay, g);
        }
      }
      m[i] = w < 0.5f ? std::fma(w, g - m[i], m[i]) : std::fma(w - 1.0f, g - m[i], g);
      const float scaled = static_cast<float>(1.0 - b2) * g;
      v[i] = v[i] * o.beta2;
      v[i] = v[i] + scaled * g;
      const float denom = std::sqrt(v[i]) / bc2_sqrt + o.eps;
      const float neg_step = -step_size;
      const float num = neg_step * m[i];
      p[i] = p[i] + num / denom;
    }
  }
  return p;
}

std::vector<float> torch_order_sgd(const SgdOptions& o, std::vector<float> p,
                                   const std::vector<std::vector<float>>& grads) {
  std::vector<float> buf;
  const float one_minus_damp = static_cast<float>(1.0 - static_cast<double>(o.dampening));
  for (const auto& grad : grads) {
    const bool first = buf.empty();
    if (first) buf.assign(p.size(), 0.0f);
    for (size_t i = 0; i < p.size(); ++i) {
      float g = grad[i];
      if (o.weight_decay != 0.0f) g = std::fma(p[i], o.weight_decay, g);
      if (o.momentum != 0.0f) {
        if (first) {
          buf[i] = g;
        } else {
          const float decayed = buf[i] * o.momentum;
          buf[i] = std::fma(g, one_minus_damp, decayed);
        }
        g = o.nesterov ? std::fma(buf[i], o.momentum, g) : buf[i];
      }
      p[i] = std::fma(g, -o.lr, p[i]);
    }
  }
  return p;
}

template <class Optimizer, class TorchOrder>
void expect_torch_bits(Optimizer& opt, const TorchOrder& torch_order, uint64_t seed) {
  std::mt19937_64 gen(seed);
  Context ctx;
  const int64_t n = 257;
  Tensor params = test::random_tensor(Shape{n}, gen);
  const std::vector<float> start = params.to_vector();
  std::vector<std::vector<float>> grads;
  for (int s = 0; s < 7; ++s) {
    const Tensor g = test::random_tensor(Shape{n}, gen);
    grads.push_back(g.to_vector());
    opt.step(ctx, params, g);
  }
  const std::vector<float> expected = torch_order(start, grads);
  const std::vector<float> actual = params.to_vector();
  for (int64_t i = 0; i < n; ++i) {
    ASSERT_EQ(std::memcmp(&expected[static_cast<size_t>(i)], &actual[static_cast<size_t>(i)], 4),
              0)
        << "element " << i << ": torch order gives " << expected[static_cast<size_t>(i)]
        << ", kestrel " << actual[static_cast<size_t>(i)];
  }
}

TEST_P(AdamTest, MatchesTorchFloatOperationOrderBitwise) {
  const AdamOptions o = GetParam().options;
  Adam opt(o);
  expect_torch_bits(
      opt, [&](auto p, const auto& g) { return torch_order_adam(o, p, g); },
      test::test_seed() + 3);
}

TEST(Adam, OneAndTwoThreadsGiveIdenticalBits) {
  std::mt19937_64 gen(test::test_seed() + 4);
  Context ctx;
  const Tensor start = test::random_tensor(Shape{100003}, gen);
  const Tensor g1 = test::random_tensor(Shape{100003}, gen);
  const Tensor g2 = test::random_tensor(Shape{100003}, gen);
  std::vector<float> results[2];
  for (int threads = 1; threads <= 2; ++threads) {
    cpu::set_num_threads(threads);
    Adam opt(AdamOptions::adamw(1e-2f));
    Tensor p = Tensor::empty(start.shape());
    p.copy_from(start);
    opt.step(ctx, p, g1);
    opt.step(ctx, p, g2);
    results[threads - 1] = p.to_vector();
  }
  cpu::set_num_threads(0);
  ASSERT_EQ(results[0].size(), results[1].size());
  EXPECT_EQ(std::memcmp(results[0].data(), results[1].data(), results[0].size() * 4), 0);
}

TEST(Adam, SetLrAppliesToTheNextStep) {
  std::mt19937_64 gen(test::test_seed() + 5);
  Context ctx;
  Adam opt(AdamOptions{});
  AdamRef ref{AdamOptions{}, {}, {}};
  Tensor params = test::random_tensor(Shape{64}, gen);
  std::vector<double> expected = test::to_double(params);
  for (float lr : {1e-3f, 5e-2f, 0.0f, 2e-2f}) {
    opt.set_lr(lr);
    ref.o.lr = lr;
    const Tensor grads = test::random_tensor(Shape{64}, gen);
    opt.step(ctx, params, grads);
    ref.step(expected, test::to_double(grads));
  }
  EXPECT_EQ(opt.lr(), 2e-2f);
  EXPECT_EQ(opt.options().lr, 2e-2f);
  EXPECT_TRUE(test::all_close(expected, params, kRtol, kAtol));
}

// A skip flag (the step ledger's halt flag) that is set leaves parameters and state as they
// are; cleared, the next steps update again, from where they were.
TEST(Optimizer, ASetSkipFlagLeavesParametersAndStateUntouched) {
  std::mt19937_64 gen(test::test_seed() + 12);
  Context ctx;
  Adam adam(AdamOptions::adamw(1e-2f, 0.1f));
  Sgd sgd(SgdOptions{.lr = 0.1f, .momentum = 0.9f, .weight_decay = 1e-3f, .nesterov = true});
  for (optim::Optimizer* opt : {static_cast<optim::Optimizer*>(&adam),
                                static_cast<optim::Optimizer*>(&sgd)}) {
    SCOPED_TRACE(opt->name());
    int32_t flag = 0;
    opt->set_skip_flag(&flag);
    Tensor params = test::random_tensor(Shape{1000}, gen);
    const Tensor grads = test::random_tensor(Shape{1000}, gen);
    opt->step(ctx, params, grads);
    const std::vector<float> p1 = params.to_vector();
    std::vector<std::vector<float>> s1;
    for (const auto& [name, t] : opt->state()) s1.push_back(t.to_vector());

    flag = 1;
    opt->step(ctx, params, grads);
    EXPECT_EQ(params.to_vector(), p1);
    size_t i = 0;
    for (const auto& [name, t] : opt->state()) EXPECT_EQ(t.to_vector(), s1[i++]) << name;

    flag = 0;
    opt->step(ctx, params, grads);
    EXPECT_NE(params.to_vector(), p1);
    opt->set_skip_flag(nullptr);
  }
}

// prepare_step stores the step's scalars on the device and apply_step reads them there: the
// two halves, with the rate changed in between steps, are step() bit for bit.
TEST(Optimizer, PrepareThenApplyIsStep) {
  std::mt19937_64 gen(test::test_seed() + 13);
  Context ctx;
  for (int kind = 0; kind < 2; ++kind) {
    std::unique_ptr<optim::Optimizer> a, b;
    if (kind == 0) {
      a = std::make_unique<Adam>(AdamOptions::adamw(1e-2f, 0.1f));
      b = std::make_unique<Adam>(AdamOptions::adamw(1e-2f, 0.1f));
    } else {
      a = std::make_unique<Sgd>(SgdOptions{.lr = 0.1f, .momentum = 0.9f});
      b = std::make_unique<Sgd>(SgdOptions{.lr = 0.1f, .momentum = 0.9f});
    }
    SCOPED_TRACE(a->name());
    Tensor pa = test::random_tensor(Shape{777}, gen);
    Tensor pb = pa.to(Device::cpu());
    for (float lr : {1e-2f, 3e-3f, 5e-2f}) {
      const Tensor g = test::random_tensor(Shape{777}, gen);
      a->set_lr(lr);
      b->set_lr(lr);
      a->step(ctx, pa, g);
      b->prepare_step(ctx, pb, g);
      b->apply_step(ctx, pb, g);
    }
    EXPECT_EQ(std::memcmp(pa.data<float>(), pb.data<float>(), pa.nbytes()), 0);
    Sgd fresh(SgdOptions{.lr = 0.1f});
    test::expect_error([&] { fresh.apply_step(ctx, pa, pa); }, "apply_step before prepare_step");
  }
}

// The parameters may be any shape (a model's flat buffer or one layer's view); the gradient
// buffer only has to hold as many elements.
TEST(Adam, AcceptsAnyShapeOfEqualNumel) {
  std::mt19937_64 gen(test::test_seed() + 6);
  Context ctx;
  Adam opt(AdamOptions{});
  AdamRef ref{AdamOptions{}, {}, {}};
  Tensor params = test::random_tensor(Shape{3, 5, 7}, gen);
  const Tensor grads = test::random_tensor(Shape{105}, gen);
  std::vector<double> expected = test::to_double(params);
  opt.step(ctx, params, grads);
  ref.step(expected, test::to_double(grads));
  EXPECT_TRUE(test::all_close(expected, params, kRtol, kAtol));
}

// ---- state: lazy allocation and checkpoint round trips ------------------------------------

TEST(Adam, StateIsAllocatedOnTheFirstStep) {
  Context ctx;
  Adam opt(AdamOptions{});
  EXPECT_TRUE(opt.state().empty());
  EXPECT_EQ(opt.step_count(), 0);
  Tensor p = Tensor::from_vector(Shape{2, 2}, std::vector<float>{1, 2, 3, 4});
  const Tensor g = Tensor::from_vector(Shape{2, 2}, std::vector<float>{0, 0, 0, 0});
  opt.step(ctx, p, g);
  const auto state = opt.state();
  ASSERT_EQ(state.size(), 2u);
  for (const auto& [name, t] : state) {
    EXPECT_EQ(t.shape(), Shape{4}) << name;
    for (float x : t.to_vector()) EXPECT_EQ(x, 0.0f) << name;  // zero gradients keep them zero
  }
  EXPECT_EQ(opt.step_count(), 1);
}

template <class Optimizer, class Options>
void expect_resume_is_exact(const Options& options, uint64_t seed) {
  std::mt19937_64 gen(seed);
  Context ctx;
  const int64_t n = 129;
  const Tensor start = test::random_tensor(Shape{n}, gen);
  std::vector<Tensor> grads;
  for (int s = 0; s < 6; ++s) grads.push_back(test::random_tensor(Shape{n}, gen));

  Tensor p_a = Tensor::empty(start.shape()), p_b = Tensor::empty(start.shape());
  p_a.copy_from(start);
  p_b.copy_from(start);
  Optimizer uninterrupted(options);
  for (const Tensor& g : grads) uninterrupted.step(ctx, p_a, g);

  Optimizer first(options);
  for (size_t s = 0; s < 3; ++s) first.step(ctx, p_b, grads[s]);
  Optimizer resumed(options);
  resumed.load_state(first.step_count(), first.state());
  for (size_t s = 3; s < 6; ++s) resumed.step(ctx, p_b, grads[s]);

  EXPECT_EQ(resumed.step_count(), 6);
  const auto a = p_a.to_vector(), b = p_b.to_vector();
  EXPECT_EQ(std::memcmp(a.data(), b.data(), a.size() * 4), 0);
}

TEST(Adam, LoadStateResumesBitExactly) {
  expect_resume_is_exact<Adam>(AdamOptions::adamw(3e-2f), test::test_seed() + 7);
}

TEST(Sgd, LoadStateResumesBitExactly) {
  SgdOptions o;
  o.lr = 0.05f, o.momentum = 0.9f, o.dampening = 0.1f, o.weight_decay = 1e-3f;
  expect_resume_is_exact<Sgd>(o, test::test_seed() + 8);
}

TEST(Adam, LoadStateCopiesTheBuffers) {
  Context ctx;
  Adam a(AdamOptions{});
  Tensor p = Tensor::from_vector(Shape{3}, std::vector<float>{1, 2, 3});
  a.step(ctx, p, Tensor::from_vector(Shape{3}, std::vector<float>{1, 1, 1}));
  const std::vector<float> exp_avg = a.state()[0].second.to_vector();
  Adam b(AdamOptions{});
  b.load_state(1, a.state());
  a.state()[0].second.fill(42.0f);  // the source changes after loading
  EXPECT_EQ(b.state()[0].second.to_vector(), exp_avg);
}

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "(no error)";
}

#define EXPECT_ERROR_CONTAINS(statement, text)                                   \
  do {                                                                           \
    const std::string message = error_of([&] { statement; });                    \
    EXPECT_NE(message.find(text), std::string::npos) << "got: " << message;      \
  } while (0)

TEST(Adam, LoadStateRejectsBadCheckpoints) {
  Adam opt(AdamOptions{});
  const Tensor a = Tensor::zeros(Shape{4}), b = Tensor::zeros(Shape{5});
  EXPECT_ERROR_CONTAINS(opt.load_state(3, {{"exp_avg", a}}),
                        "adam: state 'exp_avg_sq' is missing from loaded state");
  EXPECT_ERROR_CONTAINS(opt.load_state(3, {{"exp_avg", a}, {"exp_avg_sq", b}}),
                        "adam: state 'exp_avg_sq' has 5 elements but 'exp_avg' has 4");
  EXPECT_ERROR_CONTAINS(opt.load_state(3, {{"exp_avg", a}, {"momentum_buffer", a}}),
                        "adam: unexpected state 'momentum_buffer' in loaded state");
  EXPECT_ERROR_CONTAINS(opt.load_state(0, {{"exp_avg", a}, {"exp_avg_sq", a}}),
                        "adam: loaded state has moments but step count 0");
  EXPECT_ERROR_CONTAINS(opt.load_state(2, {}),
                        "adam: loaded state at step 2 has no exp_avg and exp_avg_sq");
  EXPECT_ERROR_CONTAINS(opt.load_state(-1, {{"exp_avg", a}, {"exp_avg_sq", a}}),
                        "adam: invalid step count -1 in loaded state");
}

// ---- SGD ----------------------------------------------------------------------------------

struct SgdCase {
  std::string name;
  SgdOptions options;
  int steps;
};

class SgdTest : public ::testing::TestWithParam<SgdCase> {};

TEST_P(SgdTest, MatchesFloat64Reference) {
  Sgd opt(GetParam().options);
  SgdRef ref{GetParam().options, {}};
  run_and_compare(opt, ref, 1031, GetParam().steps, test::test_seed() + 10);
}

TEST_P(SgdTest, MatchesTorchFloatOperationOrderBitwise) {
  const SgdOptions o = GetParam().options;
  Sgd opt(o);
  expect_torch_bits(
      opt, [&](auto p, const auto& g) { return torch_order_sgd(o, p, g); },
      test::test_seed() + 11);
}

SgdOptions sgd_options(float lr, float momentum, float dampening, float wd, bool nesterov) {
  SgdOptions o;
  o.lr = lr, o.momentum = momentum, o.dampening = dampening, o.weight_decay = wd;
  o.nesterov = nesterov;
  return o;
}

INSTANTIATE_TEST_SUITE_P(
    Options, SgdTest,
    ::testing::Values(SgdCase{"plain", sgd_options(0.1f, 0, 0, 0, false), 1},
                      SgdCase{"plain_weight_decay", sgd_options(0.1f, 0, 0, 0.01f, false), 3},
                      SgdCase{"momentum", sgd_options(0.05f, 0.9f, 0, 0, false), 3},
                      SgdCase{"momentum_weight_decay", sgd_options(0.05f, 0.9f, 0, 5e-4f, false), 5},
                      SgdCase{"nesterov", sgd_options(0.05f, 0.9f, 0, 0, true), 3},
                      SgdCase{"nesterov_weight_decay", sgd_options(0.05f, 0.8f, 0, 0.1f, true), 3},
                      SgdCase{"dampening", sgd_options(0.05f, 0.9f, 0.3f, 0, false), 3}),
    [](const auto& param_info) { return param_info.param.name; });

// torch seeds the momentum buffer with the first gradient itself (weight decay included),
// without momentum or dampening; later steps apply both.
TEST(Sgd, FirstStepBufferIsTheGradient) {
  std::mt19937_64 gen(test::test_seed() + 12);
  Context ctx;
  const SgdOptions o = sgd_options(0.1f, 0.9f, 0.5f, 0.01f, false);
  Sgd opt(o);
  Tensor params = test::random_tensor(Shape{17}, gen);
  const Tensor grads = test::random_tensor(Shape{17}, gen);
  std::vector<double> expected_buf(17);
  const auto p = test::to_double(params), g = test::to_double(grads);
  for (size_t i = 0; i < 17; ++i) expected_buf[i] = g[i] + static_cast<double>(o.weight_decay) * p[i];
  EXPECT_TRUE(opt.state().empty());
  opt.step(ctx, params, grads);
  const auto state = opt.state();
  ASSERT_EQ(state.size(), 1u);
  EXPECT_EQ(state[0].first, "momentum_buffer");
  EXPECT_TRUE(test::all_close(expected_buf, state[0].second, 1e-7, 1e-9));
}

// Hand-computed, exact in f32: p = 1, g = 0.5, lr = 0.25, momentum 0.5.
//   step 1: buf = 0.5,                    p = 1 - 0.25 * 0.5 = 0.875
//   step 2: buf = 0.5 * 0.5 + 0.5 = 0.75, p = 0.875 - 0.25 * 0.75 = 0.6875
//   Nesterov instead: step 1 g = 0.5 + 0.5 * 0.5 = 0.75, p = 0.8125;
//                     step 2 g = 0.5 + 0.5 * 0.75 = 0.875, p = 0.8125 - 0.21875 = 0.59375
TEST(Sgd, HandComputedMomentumSteps) {
  Context ctx;
  const Tensor g = Tensor::from_vector(Shape{1}, std::vector<float>{0.5f});
  Sgd heavy_ball(sgd_options(0.25f, 0.5f, 0, 0, false));
  Sgd nesterov(sgd_options(0.25f, 0.5f, 0, 0, true));
  Tensor p1 = Tensor::from_vector(Shape{1}, std::vector<float>{1.0f});
  Tensor p2 = Tensor::from_vector(Shape{1}, std::vector<float>{1.0f});
  heavy_ball.step(ctx, p1, g);
  nesterov.step(ctx, p2, g);
  EXPECT_EQ(p1.to_vector()[0], 0.875f);
  EXPECT_EQ(p2.to_vector()[0], 0.8125f);
  heavy_ball.step(ctx, p1, g);
  nesterov.step(ctx, p2, g);
  EXPECT_EQ(p1.to_vector()[0], 0.6875f);
  EXPECT_EQ(p2.to_vector()[0], 0.59375f);
}

TEST(Sgd, WithoutMomentumHasNoState) {
  Context ctx;
  Sgd opt(SgdOptions{});
  Tensor p = Tensor::from_vector(Shape{2}, std::vector<float>{1, 2});
  opt.step(ctx, p, Tensor::from_vector(Shape{2}, std::vector<float>{1, 1}));
  EXPECT_TRUE(opt.state().empty());
  EXPECT_EQ(opt.step_count(), 1);
  EXPECT_ERROR_CONTAINS(opt.load_state(1, {{"momentum_buffer", Tensor::zeros(Shape{2})}}),
                        "sgd: loaded state has a momentum buffer but momentum is 0");
}

TEST(Sgd, OneAndTwoThreadsGiveIdenticalBits) {
  std::mt19937_64 gen(test::test_seed() + 13);
  Context ctx;
  const Tensor start = test::random_tensor(Shape{100003}, gen);
  const Tensor g = test::random_tensor(Shape{100003}, gen);
  std::vector<float> results[2];
  for (int threads = 1; threads <= 2; ++threads) {
    cpu::set_num_threads(threads);
    Sgd opt(sgd_options(0.1f, 0.9f, 0, 1e-4f, true));
    Tensor p = Tensor::empty(start.shape());
    p.copy_from(start);
    opt.step(ctx, p, g);
    opt.step(ctx, p, g);
    results[threads - 1] = p.to_vector();
  }
  cpu::set_num_threads(0);
  EXPECT_EQ(std::memcmp(results[0].data(), results[1].data(), results[0].size() * 4), 0);
}

// ---- argument errors ----------------------------------------------------------------------

TEST(Sgd, RejectsInvalidOptions) {
  EXPECT_ERROR_CONTAINS(Sgd(sgd_options(-0.1f, 0, 0, 0, false)),
                        "sgd: invalid learning rate -0.1 (must be >= 0)");
  EXPECT_ERROR_CONTAINS(Sgd(sgd_options(0.1f, -0.5f, 0, 0, false)),
                        "sgd: invalid momentum -0.5 (must be >= 0)");
  EXPECT_ERROR_CONTAINS(Sgd(sgd_options(0.1f, 0.9f, 0, -1e-4f, false)),
                        "sgd: invalid weight_decay -0.0001 (must be >= 0)");
  EXPECT_ERROR_CONTAINS(Sgd(sgd_options(0.1f, 0, 0, 0, true)),
                        "sgd: nesterov momentum requires momentum > 0 and dampening == 0 "
                        "(momentum 0, dampening 0)");
  EXPECT_ERROR_CONTAINS(Sgd(sgd_options(0.1f, 0.9f, 0.1f, 0, true)),
                        "sgd: nesterov momentum requires momentum > 0 and dampening == 0 "
                        "(momentum 0.9, dampening 0.1)");
  EXPECT_ERROR_CONTAINS(Sgd(sgd_options(std::nanf(""), 0, 0, 0, false)),
                        "sgd: invalid learning rate nan");
}

TEST(Adam, RejectsInvalidOptions) {
  EXPECT_ERROR_CONTAINS(Adam(adam_options(-1e-3f, 0.9f, 0.999f, 1e-8f, 0, false)),
                        "adam: invalid learning rate -0.001 (must be >= 0)");
  EXPECT_ERROR_CONTAINS(Adam(adam_options(1e-3f, 1.0f, 0.999f, 1e-8f, 0, false)),
                        "adam: invalid beta1 1 (must be in [0, 1))");
  EXPECT_ERROR_CONTAINS(Adam(adam_options(1e-3f, -0.1f, 0.999f, 1e-8f, 0, false)),
                        "adam: invalid beta1 -0.1 (must be in [0, 1))");
  EXPECT_ERROR_CONTAINS(Adam(adam_options(1e-3f, 0.9f, 1.5f, 1e-8f, 0, false)),
                        "adam: invalid beta2 1.5 (must be in [0, 1))");
  EXPECT_ERROR_CONTAINS(Adam(adam_options(1e-3f, 0.9f, 0.999f, -1e-8f, 0, false)),
                        "adam: invalid eps -1e-08 (must be >= 0)");
  EXPECT_ERROR_CONTAINS(Adam(adam_options(1e-3f, 0.9f, 0.999f, 1e-8f, -0.01f, true)),
                        "adamw: invalid weight_decay -0.01 (must be >= 0)");
  Adam ok(AdamOptions{});
  EXPECT_ERROR_CONTAINS(ok.set_lr(-2.0f), "adam: invalid learning rate -2 (must be >= 0)");
  EXPECT_EQ(ok.lr(), 1e-3f);  // unchanged after the rejected value
}

TEST(Adam, RejectsMismatchedBuffers) {
  Context ctx;
  Adam opt(AdamOptions{});
  Tensor p = Tensor::zeros(Shape{4, 3});
  EXPECT_ERROR_CONTAINS(opt.step(ctx, p, Tensor::zeros(Shape{11})),
                        "adam: grads have 11 elements but params have 12 (params f32[4, 3] on "
                        "cpu, grads f32[11] on cpu)");
  Tensor labels = Tensor::zeros(Shape{12}, DType::I32);
  EXPECT_ERROR_CONTAINS(opt.step(ctx, p, labels), "adam: grads must be f32, got i32[12] on cpu");
  opt.step(ctx, p, Tensor::zeros(Shape{12}));
  Tensor other = Tensor::zeros(Shape{13});
  EXPECT_ERROR_CONTAINS(opt.step(ctx, other, Tensor::zeros(Shape{13})),
                        "adam: params have 13 elements but the optimizer state holds 12 "
                        "(params f32[13] on cpu)");
  EXPECT_EQ(opt.step_count(), 1);  // failed steps do not count
}

}  // namespace
}  // namespace kestrel
