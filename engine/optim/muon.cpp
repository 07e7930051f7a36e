#include "engine/optim/muon.hpp"

#include <algorithm>
#include <cmath>
#include <string_view>
#include <utility>

#include "engine/ops/batched_matmul.hpp"
#include "engine/ops/dispatch.hpp"
#include "engine/ops/grad_norm.hpp"
#include "engine/runtime/nvtx.hpp"
#include "engine/tensor/copy.hpp"
#include "kernels/common/muon.hpp"
#include "kernels/common/optimizers.hpp"

namespace kestrel::optim {

namespace {

constexpr std::string_view kSgdMomentum = "momentum_buffer";
constexpr std::string_view kMuonMomentum = "muon_momentum_buffer";
// The quintic iteration's coefficients (the reference's zeropower_via_newtonschulz5).
constexpr float kNsA = 3.4445f, kNsB = -4.7750f, kNsC = 2.0315f;
constexpr double kNormEps = 1e-7;

int64_t wide_rows(const MuonMatrix& m) { return std::min(m.rows, m.cols); }
int64_t wide_cols(const MuonMatrix& m) { return std::max(m.rows, m.cols); }

// C = alpha op(A) op(B) + beta C for single row-major matrices.
void gemm(const Context& ctx, int64_t m, int64_t n, int64_t k, const float* a, int64_t lda,
          bool trans_a, const float* b, int64_t ldb, bool trans_b, float alpha, float beta,
          float* c) {
  kernels::BatchedGemm g;
  g.m = m, g.n = n, g.k = k;
  g.trans_a = trans_a, g.trans_b = trans_b;
  g.alpha = alpha, g.beta = beta;
  g.a.ld = lda, g.b.ld = ldb, g.c.ld = n;
  ops::batched_matmul(ctx, g, a, b, c);
}

SgdOptions checked_sgd(const MuonOptions& o) {
  KESTREL_CHECK(o.sgd.lr > 0.0f && std::isfinite(o.sgd.lr),
                "muon: the SGD rate must be positive (the matrices' rate is relative to it), "
                "got {}",
                o.sgd.lr);
  return o.sgd;
}

}  // namespace

Muon::Muon(MuonOptions options)
    : Optimizer("muon", options.sgd.lr), options_(std::move(options)), sgd_(checked_sgd(options_)) {
  const MuonOptions& o = options_;
  KESTREL_CHECK(o.lr >= 0.0f && std::isfinite(o.lr), "muon: invalid learning rate {} (must be >= 0)",
                o.lr);
  KESTREL_CHECK(o.momentum >= 0.0f && o.momentum < 1.0f, "muon: momentum {} must be in [0, 1)",
                o.momentum);
  KESTREL_CHECK(!o.nesterov || o.momentum > 0.0f, "muon: nesterov momentum requires momentum > 0");
  KESTREL_CHECK(o.ns_steps >= 1 && o.ns_steps <= 20, "muon: ns_steps {} must be in [1, 20]",
                o.ns_steps);
  KESTREL_CHECK(!o.matrices.empty(), "muon: no matrix to orthogonalize");
  std::vector<MuonMatrix> sorted = o.matrices;
  std::sort(sorted.begin(), sorted.end(),
            [](const MuonMatrix& a, const MuonMatrix& b) { return a.offset < b.offset; });
  for (size_t i = 0; i < sorted.size(); ++i) {
    const MuonMatrix& m = sorted[i];
    KESTREL_CHECK(m.offset >= 0 && m.rows >= 1 && m.cols >= 1,
                  "muon: invalid matrix at offset {} ({} x {})", m.offset, m.rows, m.cols);
    KESTREL_CHECK(i == 0 || sorted[i - 1].offset + sorted[i - 1].rows * sorted[i - 1].cols <= m.offset,
                  "muon: the matrices at offsets {} and {} overlap", sorted[i - 1].offset,
                  m.offset);
  }
}

double Muon::muon_lr() const {
  return static_cast<double>(options_.lr) * static_cast<double>(lr()) /
         static_cast<double>(options_.sgd.lr);
}

void Muon::sync_sgd_groups(const Context& ctx, const Tensor& params) {
  const ParamGroups& mine = param_groups();
  const int count = param_group_count();
  const void* index = mine.index.defined() ? mine.index.raw_data() : nullptr;
  if (!synced_ || synced_index_ != index || synced_groups_ != count) {
    KESTREL_CHECK(count < kernels::kMaxParamGroups,
                  "muon: {} parameter groups and the matrices' own make more than {}", count,
                  kernels::kMaxParamGroups);
    // The index on the host, the matrices' elements moved to group `count`, then to the device.
    const int64_t n = params.numel();
    std::vector<uint8_t> host(static_cast<size_t>(n), 0);
    if (mine.index.defined())
      copy_bytes(host.data(), Device::cpu(), mine.index.raw_data(), mine.index.device(),
                 host.size());
    for (const MuonMatrix& m : options_.matrices) {
      KESTREL_CHECK(m.offset + m.rows * m.cols <= n,
                    "muon: the matrix at offset {} ({} x {}) ends past the {} parameters",
                    m.offset, m.rows, m.cols, n);
      std::fill_n(host.begin() + m.offset, m.rows * m.cols, static_cast<uint8_t>(count));
    }
    ParamGroups groups;
    groups.index = Tensor::empty(Shape{n}, DType::U8, ctx.device());
    copy_bytes(groups.index.raw_data(), ctx.device(), host.data(), Device::cpu(), host.size());
    groups.weight_decay_scale =
        mine.weight_decay_scale.empty() ? std::vector<double>{1.0} : mine.weight_decay_scale;
    groups.weight_decay_scale.push_back(0.0);
    groups.lr_scale.assign(static_cast<size_t>(count) + 1, 1.0);
    sgd_.set_param_groups(std::move(groups));
    synced_index_ = index;
    synced_groups_ = count;
    synced_ = true;
  }
  // The rules' rates as they are this epoch; the matrices' SGD rate stays 0.
  for (int k = 0; k < count; ++k)
    sgd_.set_group_lr_scale(
        k, mine.lr_scale.empty() ? 1.0 : mine.lr_scale[static_cast<size_t>(k)]);
  sgd_.set_group_lr_scale(count, 0.0);
}

void Muon::allocate_scratch(Device device) {
  int64_t wide = 0, square = 0;
  for (const MuonMatrix& m : options_.matrices) {
    wide = std::max(wide, m.rows * m.cols);
    square = std::max(square, wide_rows(m) * wide_rows(m));
  }
  x_ = Tensor::empty(Shape{wide}, DType::F32, device);
  x_next_ = Tensor::empty(Shape{wide}, DType::F32, device);
  a_ = Tensor::empty(Shape{square}, DType::F32, device);
  b_ = Tensor::empty(Shape{square}, DType::F32, device);
  norms_ = Tensor::empty(Shape{2}, DType::F64, device);
}

void Muon::prepare_step(const Context& ctx, const Tensor& params, const Tensor& grads) {
  check_step_args(ctx, params, grads, momentum_buffer_.defined() ? momentum_buffer_.numel() : -1);
  sync_sgd_groups(ctx, params);
  sgd_.set_lr(lr());
  sgd_.set_skip_flag(skip_flag());
  sgd_.prepare_step(ctx, params, grads);
  // torch's zero buffer: the first step's momentum is the gradient itself.
  if (!momentum_buffer_.defined())
    momentum_buffer_ = Tensor::zeros(Shape{params.numel()}, DType::F32, ctx.device());
  if (!x_.defined() || x_.device() != ctx.device()) allocate_scratch(ctx.device());
  ++step_count_;
  const float rate[1] = {static_cast<float>(muon_lr())};
  store_step_scalars(ctx, rate);
}

void Muon::orthogonalize(const Context& ctx, const MuonMatrix& m, Tensor& params,
                         const Tensor& grads, const int32_t* skip) {
  const int64_t n = m.rows * m.cols, rows = wide_rows(m), cols = wide_cols(m);
  const bool transposed = m.rows > m.cols;
  float* w = params.data<float>() + m.offset;
  float* x = x_.data<float>();
  float* x_next = x_next_.data<float>();
  float* a = a_.data<float>();
  float* b = b_.data<float>();
  double* norms = norms_.data<double>();

  ops::detail::launch_elementwise(
      ctx, n,
      kernels::MuonMomentum{grads.data<float>() + m.offset, momentum_buffer_.data<float>() + m.offset,
                            x, m.rows, m.cols, transposed, options_.momentum, options_.nesterov,
                            skip});
  if (options_.normalize_weights) {
    ops::sum_squares(ctx, w, n, norms);
    ops::detail::launch_elementwise(
        ctx, n,
        kernels::MuonScaleToNorm{w, norms, std::sqrt(static_cast<double>(m.rows)), 0.0, skip});
  }
  ops::sum_squares(ctx, x, n, norms + 1);
  ops::detail::launch_elementwise(ctx, n,
                                  kernels::MuonScaleToNorm{x, norms + 1, 1.0, kNormEps, skip});
  for (int s = 0; s < options_.ns_steps; ++s) {
    // A = X X^T; B = b A + c A A; X' = a X + B X.
    gemm(ctx, rows, rows, cols, x, cols, false, x, cols, true, 1.0f, 0.0f, a);
    ops::detail::launch_elementwise(ctx, rows * rows, kernels::MuonCopy{b, a});
    gemm(ctx, rows, rows, rows, a, rows, false, a, rows, false, kNsC, kNsB, b);
    ops::detail::launch_elementwise(ctx, n, kernels::MuonCopy{x_next, x});
    gemm(ctx, rows, cols, rows, b, rows, false, x, cols, false, 1.0f, kNsA, x_next);
    std::swap(x, x_next);
  }
  ops::detail::launch_elementwise(
      ctx, n, kernels::MuonApply{w, x, step_scalars(), m.rows, m.cols, transposed, skip});
}

void Muon::apply_step(const Context& ctx, Tensor& params, const Tensor& grads) {
  NvtxRange range("muon_step");
  check_step_args(ctx, params, grads, momentum_buffer_.defined() ? momentum_buffer_.numel() : -1);
  KESTREL_CHECK(momentum_buffer_.defined(), "muon: apply_step before prepare_step");
  sgd_.apply_step(ctx, params, grads);
  const int32_t* skip = nullptr;
  if (skipped_on_host(ctx, skip)) return;
  for (const MuonMatrix& m : options_.matrices) orthogonalize(ctx, m, params, grads, skip);
}

NamedState Muon::state() const {
  if (!momentum_buffer_.defined()) return {};
  NamedState out = sgd_.state();
  out.emplace_back(std::string(kMuonMomentum), momentum_buffer_);
  return out;
}

void Muon::load_state(int64_t step_count, const NamedState& state) {
  if (state.empty()) {
    check_loaded_state(step_count, state, {});
    sgd_.load_state(step_count, {});
    momentum_buffer_ = Tensor();
  } else {
    std::vector<std::string_view> names{kMuonMomentum};
    if (options_.sgd.momentum != 0.0f) names.push_back(kSgdMomentum);
    check_loaded_state(step_count, state, names);
    NamedState sgd_state;
    for (const auto& entry : state)
      if (entry.first == kSgdMomentum) sgd_state.push_back(entry);
    sgd_.load_state(step_count, sgd_state);
    momentum_buffer_ = copy_of(state, kMuonMomentum);
  }
  step_count_ = step_count;
}

}  // namespace kestrel::optim
