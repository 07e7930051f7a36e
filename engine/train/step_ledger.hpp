#pragma once
// StepLedger: the training loop's running loss, hits and divergence check, kept on the device
// (kernels/common/step_ledger.hpp) so that the host queues step after step without waiting for
// any of them. train_step adds each step's tally; the trainer reads the ledger back every few
// steps (--sync-every) and at the end of every epoch.
//
// A step whose loss is NaN or infinite halts the ledger: that step and every later one leave
// the parameters and the optimizer state as they were (the optimizer reads the halt flag on the
// device), so when the host next reads the ledger it finds the first bad step and the weights
// from just before it, the same outcome as checking the loss after every step.
#include <cstdint>

#include "engine/runtime/context.hpp"
#include "engine/tensor/tensor.hpp"
#include "kernels/common/step_ledger.hpp"

namespace kestrel::train {

// The ledger as the host reads it.
struct LedgerSnapshot {
  double loss_sum = 0.0;  // sum of loss x rows over the counted steps
  double rows = 0.0;
  double correct = 0.0;
  int64_t steps = 0;
  float last_loss = 0.0f;
  bool halted = false;
  int64_t halted_step = -1;  // the first step whose loss was not finite
  float halted_loss = 0.0f;

  double mean_loss() const { return rows > 0.0 ? loss_sum / rows : 0.0; }
  double accuracy() const { return rows > 0.0 ? correct / rows : 0.0; }
};

class StepLedger {
 public:
  // A cleared ledger on ctx's device (queued, no synchronisation).
  explicit StepLedger(const Context& ctx);

  // Where a step writes its tally (two doubles: data parallel sums them over the ranks).
  kernels::StepTally* tally();
  // The same tally as the two doubles a data-parallel step sums over the ranks.
  double* tally_values() { return tally_.data<double>(); }
  // The halt flag, for Optimizer::set_skip_flag.
  const int32_t* halt_flag() const;

  // Sets the index of the step about to be queued, in device memory (step_on_device()).
  void begin_step(int64_t step);
  // The step index in device memory, for nn::Graph::set_step_on_device (dropout).
  const int64_t* step_on_device() const;
  // Counts the step whose tally is in tally(): `global_rows` rows, the index begin_step set.
  void record(int64_t global_rows);
  // Zeroes the counts for a new epoch; a halt stays.
  void reset_counts();
  // Copies the ledger to the host; waits for the work queued before it.
  LedgerSnapshot read() const;

 private:
  kernels::LedgerState* state() const;

  Context ctx_;
  Tensor state_;  // f64 words holding one kernels::LedgerState
  Tensor tally_;  // f64 [2]: one kernels::StepTally
};

}  // namespace kestrel::train
