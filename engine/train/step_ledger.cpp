#include "engine/train/step_ledger.hpp"

#include "engine/ops/dispatch.hpp"
#include "engine/runtime/nvtx.hpp"
#include "engine/tensor/copy.hpp"

namespace kestrel::train {

namespace {
constexpr int64_t kStateWords =
    static_cast<int64_t>((sizeof(kernels::LedgerState) + sizeof(double) - 1) / sizeof(double));
static_assert(sizeof(kernels::StepTally) == 2 * sizeof(double),
              "a tally must be two doubles: data parallel sums it as such");
}  // namespace

StepLedger::StepLedger(const Context& ctx)
    : ctx_(ctx),
      state_(Tensor::empty(Shape{kStateWords}, DType::F64, ctx.device())),
      tally_(Tensor::empty(Shape{2}, DType::F64, ctx.device())) {
  ops::detail::launch_elementwise(ctx_, 1, kernels::ClearLedger{state()});
}

kernels::LedgerState* StepLedger::state() const {
  // The ledger's memory is the device's to write, whatever the constness of this handle.
  return static_cast<kernels::LedgerState*>(const_cast<void*>(state_.raw_data()));
}

kernels::StepTally* StepLedger::tally() {
  return static_cast<kernels::StepTally*>(tally_.raw_data());
}

const int32_t* StepLedger::halt_flag() const { return &state()->halted; }

void StepLedger::begin_step(int64_t step) {
  KESTREL_CHECK(step >= 0, "StepLedger: step {}", step);
  ops::detail::launch_elementwise(ctx_, 1, kernels::BeginStep{state(), step});
}

const int64_t* StepLedger::step_on_device() const { return &state()->step; }

void StepLedger::record(int64_t global_rows) {
  KESTREL_CHECK(global_rows > 0, "StepLedger: a step of {} rows", global_rows);
  ops::detail::launch_elementwise(ctx_, 1, kernels::RecordStep{state(), tally(), global_rows});
}

void StepLedger::reset_counts() {
  ops::detail::launch_elementwise(ctx_, 1, kernels::ResetLedgerCounts{state()});
}

LedgerSnapshot StepLedger::read() const {
  NvtxRange range("step_ledger_read");  // where a GPU timeline shows the host waiting
  kernels::LedgerState s{};
  copy_bytes(&s, Device::cpu(), state(), ctx_.device(), sizeof(s));
  LedgerSnapshot out;
  out.loss_sum = s.loss_sum;
  out.rows = s.rows;
  out.correct = s.correct;
  out.steps = s.steps;
  out.last_loss = s.last_loss;
  out.halted = s.halted != 0;
  out.halted_step = s.halted_step;
  out.halted_loss = s.halted_loss;
  return out;
}

}  // namespace kestrel::train
