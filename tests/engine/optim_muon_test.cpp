// Muon (engine/optim/muon.hpp) against a float64 reference written here from the reference
// implementation's formulas (momentum, weight normalisation, the quintic Newton-Schulz
// iteration on the wide form, the update) with SGD for the elements outside the matrices;
// a property of the iteration checked without the reference (the update's singular values near
// 1); the same bits at 1 and 2 threads; state round trip; the skip flag; argument errors; which
// parameters train::muon_matrices picks.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <random>
#include <vector>

#include "engine/optim/muon.hpp"
#include "engine/train/muon_matrices.hpp"
#include "kernels/cpu/parallel.hpp"
#include "models/registry.hpp"
#include "tests/support/compare.hpp"
#include "tests/support/errors.hpp"
#include "tests/support/random.hpp"

namespace kestrel {
namespace {

using optim::Muon;
using optim::MuonMatrix;
using optim::MuonOptions;

using Matrix = std::vector<double>;  // row-major

// C = A B for A [m, k], B [k, n].
Matrix matmul(const Matrix& a, const Matrix& b, int64_t m, int64_t k, int64_t n) {
  Matrix c(static_cast<size_t>(m * n), 0.0);
  for (int64_t i = 0; i < m; ++i)
    for (int64_t l = 0; l < k; ++l)
      for (int64_t j = 0; j < n; ++j) c[i * n + j] += a[i * k + l] * b[l * n + j];
  return c;
}

Matrix transpose(const Matrix& a, int64_t rows, int64_t cols) {
  Matrix t(a.size());
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = 0; c < cols; ++c) t[c * rows + r] = a[r * cols + c];
  return t;
}

double frobenius(const Matrix& a) {
  double s = 0.0;
  for (double v : a) s += v * v;
  return std::sqrt(s);
}

// The reference's zeropower_via_newtonschulz5, in float64, for G [rows, cols].
Matrix newton_schulz(Matrix g, int64_t rows, int64_t cols, int steps) {
  const double a = 3.4445, b = -4.7750, c = 2.0315;
  const double norm = frobenius(g);
  for (double& v : g) v /= norm + 1e-7;
  const bool tall = rows > cols;
  Matrix x = tall ? transpose(g, rows, cols) : g;
  const int64_t m = std::min(rows, cols), n = std::max(rows, cols);
  for (int s = 0; s < steps; ++s) {
    const Matrix aa = matmul(x, transpose(x, m, n), m, n, m);
    const Matrix a2 = matmul(aa, aa, m, m, m);
    Matrix bb(aa.size());
    for (size_t i = 0; i < aa.size(); ++i) bb[i] = b * aa[i] + c * a2[i];
    const Matrix bx = matmul(bb, x, m, m, n);
    for (size_t i = 0; i < x.size(); ++i) x[i] = a * x[i] + bx[i];
  }
  return tall ? transpose(x, m, n) : x;
}

struct MuonRef {
  MuonOptions o;
  std::vector<double> sgd_buf, muon_buf;
  std::vector<bool> in_matrix;
  double sgd_lr;  // the SGD rate this step (the schedule's)
  bool sgd_buf_empty = true;

  void step(std::vector<double>& p, const std::vector<double>& grad) {
    const size_t n = p.size();
    if (muon_buf.empty()) {
      sgd_buf.assign(n, 0.0), muon_buf.assign(n, 0.0), in_matrix.assign(n, false);
      for (const MuonMatrix& m : o.matrices)
        for (int64_t i = 0; i < m.rows * m.cols; ++i) in_matrix[m.offset + i] = true;
    }
    // torch.optim.SGD for the rest (its first step copies the gradient into the buffer).
    const bool first = sgd_buf_empty;
    sgd_buf_empty = false;
    for (size_t i = 0; i < n; ++i) {
      if (in_matrix[i]) continue;
      double g = grad[i] + o.sgd.weight_decay * p[i];
      sgd_buf[i] = first ? g : o.sgd.momentum * sgd_buf[i] + g;
      g = o.sgd.nesterov ? g + o.sgd.momentum * sgd_buf[i] : sgd_buf[i];
      p[i] -= sgd_lr * g;
    }
    const double muon_lr = o.lr * sgd_lr / o.sgd.lr;
    for (const MuonMatrix& m : o.matrices) {
      const int64_t count = m.rows * m.cols;
      Matrix u(static_cast<size_t>(count));
      for (int64_t i = 0; i < count; ++i) {
        const size_t k = static_cast<size_t>(m.offset + i);
        muon_buf[k] = o.momentum * muon_buf[k] + grad[k];
        u[i] = o.nesterov ? grad[k] + o.momentum * muon_buf[k] : muon_buf[k];
      }
      if (o.normalize_weights) {
        Matrix w(p.begin() + m.offset, p.begin() + m.offset + count);
        const double scale = std::sqrt(static_cast<double>(m.rows)) / frobenius(w);
        for (int64_t i = 0; i < count; ++i) p[m.offset + i] *= scale;
      }
      const Matrix x = newton_schulz(u, m.rows, m.cols, o.ns_steps);
      for (int64_t i = 0; i < count; ++i) p[m.offset + i] -= muon_lr * x[i];
    }
  }
};

// Three matrices (wide, tall: run transposed, square) among SGD elements before, between and
// after them.
std::vector<MuonMatrix> three_matrices() {
  return {{.offset = 5, .rows = 6, .cols = 20}, {.offset = 131, .rows = 17, .cols = 5},
          {.offset = 220, .rows = 4, .cols = 4}};
}
constexpr int64_t kElements = 250;

MuonOptions options(bool normalize, int ns_steps) {
  MuonOptions o;
  o.sgd.lr = 0.1f;
  o.sgd.momentum = 0.85f;
  o.sgd.nesterov = true;
  o.sgd.weight_decay = 0.01f;
  o.lr = 0.05f;
  o.momentum = 0.6f;
  o.nesterov = true;
  o.ns_steps = ns_steps;
  o.normalize_weights = normalize;
  o.matrices = three_matrices();
  return o;
}

// f32 against float64: the products of a few Newton-Schulz steps carry ~1e-6 relative error
// into an update of norm ~1 scaled by lr, on parameters of order 1.
void run_and_compare(const MuonOptions& o, int steps, uint64_t seed) {
  std::mt19937_64 gen(seed);
  Context ctx;
  Muon opt(o);
  MuonRef ref{o, {}, {}, {}, o.sgd.lr};
  Tensor params = test::random_tensor(Shape{kElements}, gen);
  std::vector<double> expected = test::to_double(params);
  for (int s = 0; s < steps; ++s) {
    // A schedule moving the rate: the matrices' rate follows it.
    const float lr = o.sgd.lr * (1.0f - 0.1f * static_cast<float>(s));
    opt.set_lr(lr);
    ref.sgd_lr = lr;
    const Tensor grads = test::random_tensor(Shape{kElements}, gen);
    opt.step(ctx, params, grads);
    ref.step(expected, test::to_double(grads));
  }
  EXPECT_EQ(opt.step_count(), steps);
  EXPECT_TRUE(test::all_close(expected, params, 2e-5, 2e-6)) << "after " << steps << " steps";
}

TEST(Muon, OneStepMatchesFloat64Reference) {
  run_and_compare(options(false, 5), 1, test::test_seed());
}

TEST(Muon, SeveralStepsWithWeightNormalisationMatchFloat64Reference) {
  run_and_compare(options(true, 3), 6, test::test_seed() + 1);
}

TEST(Muon, ClassicalMomentumMatchesFloat64Reference) {
  MuonOptions o = options(false, 5);
  o.nesterov = false;
  o.sgd.nesterov = false;
  run_and_compare(o, 4, test::test_seed() + 2);
}

// Without the reference: five quintic steps leave every singular value of the update in about
// [0.5, 1.5] (the iteration's design), whatever the gradient's spread; here checked through
// X X^T's eigenvalues by the extremes of its Rayleigh quotient (power iterations on X X^T and
// on c I - X X^T), on a gradient whose rows span 100x.
TEST(Muon, UpdateHasSingularValuesNearOne) {
  std::mt19937_64 gen(test::test_seed() + 3);
  const int64_t rows = 8, cols = 30;
  MuonOptions o;
  o.sgd.lr = 1.0f;
  o.lr = 1.0f;
  o.momentum = 0.0f;
  o.nesterov = false;
  o.ns_steps = 5;
  o.matrices = {{.offset = 0, .rows = rows, .cols = cols}};
  Muon opt(o);
  Context ctx;
  // A random matrix with its rows scaled from 1 to 100.
  Tensor grads = test::random_tensor(Shape{rows * cols}, gen);
  float* g = grads.data<float>();
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = 0; c < cols; ++c)
      g[r * cols + c] *= static_cast<float>(std::pow(100.0, static_cast<double>(r) / (rows - 1)));
  Tensor params = Tensor::zeros(Shape{rows * cols});
  opt.step(ctx, params, grads);
  // The update is -params (lr 1 from zero weights).
  Matrix x(static_cast<size_t>(rows * cols));
  for (int64_t i = 0; i < rows * cols; ++i) x[i] = -params.data<float>()[i];
  const Matrix xxt = matmul(x, transpose(x, rows, cols), rows, cols, rows);
  auto power = [&](const Matrix& m) {
    std::vector<double> v(static_cast<size_t>(rows), 1.0);
    double lambda = 0.0;
    for (int it = 0; it < 500; ++it) {
      std::vector<double> w(static_cast<size_t>(rows), 0.0);
      for (int64_t i = 0; i < rows; ++i)
        for (int64_t j = 0; j < rows; ++j) w[i] += m[i * rows + j] * v[j];
      double norm = 0.0;
      for (double e : w) norm += e * e;
      norm = std::sqrt(norm);
      lambda = norm;
      for (int64_t i = 0; i < rows; ++i) v[i] = w[i] / norm;
    }
    return lambda;
  };
  const double top = power(xxt);
  Matrix shifted = xxt;
  for (double& e : shifted) e = -e;
  for (int64_t i = 0; i < rows; ++i) shifted[i * rows + i] += top;
  const double bottom = top - power(shifted);
  EXPECT_LT(std::sqrt(top), 1.5);
  EXPECT_GT(std::sqrt(std::max(bottom, 0.0)), 0.5) << "smallest singular value";
}

TEST(Muon, SameBitsAtOneAndTwoThreads) {
  std::vector<std::vector<float>> results;
  for (int threads = 1; threads <= 2; ++threads) {
    cpu::set_num_threads(threads);
    std::mt19937_64 gen(test::test_seed() + 4);
    Context ctx;
    Muon opt(options(true, 3));
    Tensor params = test::random_tensor(Shape{kElements}, gen);
    for (int s = 0; s < 3; ++s) opt.step(ctx, params, test::random_tensor(Shape{kElements}, gen));
    results.push_back(params.to_vector());
  }
  cpu::set_num_threads(0);
  EXPECT_EQ(0, std::memcmp(results[0].data(), results[1].data(), results[0].size() * sizeof(float)));
}

// Parameter groups apply to the SGD elements (their rates and decay), not to the matrices.
TEST(Muon, GroupsScaleTheSgdElementsOnly) {
  std::mt19937_64 gen(test::test_seed() + 5);
  const MuonOptions o = options(false, 3);
  Context ctx;
  Muon plain(o), grouped(o);
  Tensor index = Tensor::empty(Shape{kElements}, DType::U8);
  for (int64_t i = 0; i < kElements; ++i) index.data<uint8_t>()[i] = static_cast<uint8_t>(i % 2);
  grouped.set_param_groups({.index = index, .weight_decay_scale = {1.0, 1.0}, .lr_scale = {1.0, 0.0}});
  EXPECT_EQ(grouped.param_group_count(), 2);
  const Tensor start = test::random_tensor(Shape{kElements}, gen);
  Tensor a = Tensor::from_vector(Shape{kElements}, start.to_vector());
  Tensor b = Tensor::from_vector(Shape{kElements}, start.to_vector());
  const Tensor grads = test::random_tensor(Shape{kElements}, gen);
  plain.step(ctx, a, grads);
  grouped.step(ctx, b, grads);
  std::vector<bool> in_matrix(kElements, false);
  for (const MuonMatrix& m : o.matrices)
    for (int64_t i = 0; i < m.rows * m.cols; ++i) in_matrix[m.offset + i] = true;
  for (int64_t i = 0; i < kElements; ++i) {
    const float pa = a.data<float>()[i], pb = b.data<float>()[i], p0 = start.data<float>()[i];
    if (in_matrix[i]) {
      EXPECT_EQ(pa, pb) << "matrix element " << i;
    } else if (i % 2 == 1) {
      EXPECT_EQ(pb, p0) << "group 1 (rate 0) element " << i;
    } else {
      EXPECT_EQ(pa, pb) << "group 0 element " << i;
    }
  }
}

TEST(Muon, StateRoundTripContinuesBitForBit) {
  std::mt19937_64 gen(test::test_seed() + 6);
  const MuonOptions o = options(true, 3);
  Context ctx;
  Muon first(o);
  Tensor params = test::random_tensor(Shape{kElements}, gen);
  EXPECT_TRUE(first.state().empty());
  first.step(ctx, params, test::random_tensor(Shape{kElements}, gen));
  const optim::NamedState state = first.state();
  ASSERT_EQ(state.size(), 2u);
  EXPECT_EQ(state[0].first, "momentum_buffer");
  EXPECT_EQ(state[1].first, "muon_momentum_buffer");
  Muon second(o);
  second.load_state(first.step_count(), state);
  Tensor copy = Tensor::from_vector(Shape{kElements}, params.to_vector());
  const Tensor grads = test::random_tensor(Shape{kElements}, gen);
  first.step(ctx, params, grads);
  second.step(ctx, copy, grads);
  EXPECT_EQ(0, std::memcmp(params.data<float>(), copy.data<float>(), kElements * sizeof(float)));
  EXPECT_EQ(second.step_count(), 2);
  test::expect_error([&] { second.load_state(1, {state[1]}); }, "momentum_buffer' is missing");
}

TEST(Muon, SkipFlagLeavesEverythingAlone) {
  std::mt19937_64 gen(test::test_seed() + 7);
  Context ctx;
  Muon opt(options(true, 3));
  Tensor params = test::random_tensor(Shape{kElements}, gen);
  opt.step(ctx, params, test::random_tensor(Shape{kElements}, gen));
  const std::vector<float> before = params.to_vector();
  const std::vector<float> state_before = opt.state()[1].second.to_vector();
  const int32_t halt = 1;
  opt.set_skip_flag(&halt);
  opt.step(ctx, params, test::random_tensor(Shape{kElements}, gen));
  EXPECT_EQ(params.to_vector(), before);
  EXPECT_EQ(opt.state()[1].second.to_vector(), state_before);
}

TEST(Muon, Errors) {
  MuonOptions o = options(false, 3);
  o.matrices.clear();
  test::expect_error([&] { Muon m(o); }, "no matrix");
  o = options(false, 3);
  o.matrices.push_back({.offset = 10, .rows = 2, .cols = 2});
  test::expect_error([&] { Muon m(o); }, "overlap");
  o = options(false, 0);
  test::expect_error([&] { Muon m(o); }, "ns_steps");
  o = options(false, 3);
  o.momentum = 1.0f;
  test::expect_error([&] { Muon m(o); }, "momentum");
  o = options(false, 3);
  o.sgd.lr = 0.0f;
  test::expect_error([&] { Muon m(o); }, "SGD rate must be positive");
  // The matrices take a group of their own: three of the rules' at most.
  o = options(false, 3);
  Muon four(o);
  Tensor index = Tensor::zeros(Shape{kElements}, DType::U8);
  four.set_param_groups({.index = index, .weight_decay_scale = {1.0, 1.0, 1.0, 1.0}});
  Context ctx;
  Tensor params = Tensor::zeros(Shape{kElements});
  test::expect_error([&] { four.step(ctx, params, Tensor::zeros(Shape{kElements})); },
                     "more than 4");
  // A matrix past the end of the parameters.
  o = options(false, 3);
  o.matrices.push_back({.offset = 240, .rows = 5, .cols = 5});
  Muon past(o);
  test::expect_error([&] { past.step(ctx, params, Tensor::zeros(Shape{kElements})); },
                     "ends past");
}

// airbench94's six convolution filters go to Muon; its classifier (head) and the frozen
// whitening filters do not; resnet20 hands over its 19 convolutions, not fc.
TEST(MuonMatrices, ConvolutionFiltersWithoutTheClassifier) {
  const auto airbench = models::build_model("airbench94", {3, 32, 32, 10});
  const std::vector<MuonMatrix> a = train::muon_matrices(*airbench);
  ASSERT_EQ(a.size(), 6u);
  EXPECT_EQ(a[0].rows, 64);
  EXPECT_EQ(a[0].cols, 24 * 9);
  EXPECT_EQ(a[5].rows, 256);
  EXPECT_EQ(a[5].cols, 256 * 9);
  const auto resnet = models::build_model("resnet20", {3, 32, 32, 10});
  const std::vector<MuonMatrix> r = train::muon_matrices(*resnet);
  EXPECT_EQ(r.size(), 19u);
  for (const nn::ParamInfo& p : resnet->parameter_infos()) {
    if (p.name != "fc.weight") continue;
    for (const MuonMatrix& m : r) {
      EXPECT_NE(m.offset, p.offset);
    }
  }
}

}  // namespace
}  // namespace kestrel
