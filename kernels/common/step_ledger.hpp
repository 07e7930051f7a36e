#pragma once
// A training step's bookkeeping, kept on the device so that a step needs no host
// synchronisation: each step's loss and hits are tallied where they are computed, added into
// a ledger, and a non-finite loss latches a halt flag that every later parameter update obeys.
// The host reads the ledger back every few steps (engine/train/step_ledger.hpp).
//
// The arithmetic is the one the host did when it read the loss each step, so the numbers are
// the same bits: a rank's mean loss rounded to f32, times its rows, summed over the ranks in
// double, divided by the global batch's rows and rounded to f32 again.
#include <cstdint>

#include "kernels/common/hd.hpp"

namespace kestrel::kernels {

// One step of one rank, before the sum over the ranks (data parallel sums these two doubles).
struct StepTally {
  double loss_times_rows;  // the rank's mean loss (f32) x its rows
  double hits;             // rows whose argmax is the label
};

struct LedgerState {
  int64_t step;         // the step being taken: its index, set before its kernels run
  double loss_sum;      // sum over the counted steps of loss x global rows
  double rows;          // global rows of the counted steps
  double correct;       // hits of the counted steps
  int64_t steps;        // steps counted since the last reset
  float last_loss;      // the newest counted step's loss
  int32_t halted;       // 1 once a step's loss was NaN or infinite; a reset keeps it
  int64_t halted_step;  // the first such step
  float halted_loss;    // and its loss
};

// x - x is 0 for every finite float and NaN for NaN and +-inf; the same test on the host and
// the GPU without either's isfinite (nvcc and GCC keep IEEE semantics by default).
KESTREL_HD_INLINE bool finite_value(float x) { return x - x == 0.0f; }

// One call: the rank's tally from the sum of its rows' losses and its hit count. The CPU sums
// the rows in double, the GPU's fixed tree gives a float: exactly one of the two sums is set.
struct TallyRankStep {
  StepTally* tally;
  const double* row_loss_sum_f64;
  const float* row_loss_sum_f32;
  const int64_t* hits;
  int64_t rows;  // 0: a data-parallel rank with no rows this step (the sums are not read)

  KESTREL_HD void operator()(int64_t) const {
    if (rows == 0) {
      tally->loss_times_rows = 0.0;
      tally->hits = 0.0;
      return;
    }
    const double sum = row_loss_sum_f64 != nullptr ? *row_loss_sum_f64
                                                   : static_cast<double>(*row_loss_sum_f32);
    const float mean = static_cast<float>(sum / static_cast<double>(rows));
    tally->loss_times_rows = static_cast<double>(mean) * static_cast<double>(rows);
    tally->hits = static_cast<double>(*hits);
  }
};

// One call before a step's kernels: its index, which dropout reads as well (the step's
// launches then carry no per-step value, so a CUDA Graph can replay them).
struct BeginStep {
  LedgerState* ledger;
  int64_t step;
  KESTREL_HD void operator()(int64_t) const { ledger->step = step; }
};

// One call, after the tally was summed over the ranks: the step's loss over the global batch.
// A finite loss is counted; the first non-finite one halts the ledger, and a halted ledger
// counts nothing more.
struct RecordStep {
  LedgerState* ledger;
  const StepTally* tally;
  int64_t global_rows;

  KESTREL_HD void operator()(int64_t) const {
    if (ledger->halted != 0) return;
    const double rows = static_cast<double>(global_rows);
    const float loss = static_cast<float>(tally->loss_times_rows / rows);
    if (!finite_value(loss)) {
      ledger->halted = 1;
      ledger->halted_step = ledger->step;
      ledger->halted_loss = loss;
      return;
    }
    ledger->loss_sum += static_cast<double>(loss) * rows;
    ledger->rows += rows;
    ledger->correct += tally->hits;
    ledger->steps += 1;
    ledger->last_loss = loss;
  }
};

// One call: zero the counts (a new epoch); the halt flag and its step stay.
struct ResetLedgerCounts {
  LedgerState* ledger;
  KESTREL_HD void operator()(int64_t) const {
    ledger->loss_sum = 0.0;
    ledger->rows = 0.0;
    ledger->correct = 0.0;
    ledger->steps = 0;
    ledger->last_loss = 0.0f;
  }
};

// One call: a fresh ledger, not halted.
struct ClearLedger {
  LedgerState* ledger;
  KESTREL_HD void operator()(int64_t) const {
    ResetLedgerCounts{ledger}(0);
    ledger->step = 0;
    ledger->halted = 0;
    ledger->halted_step = -1;
    ledger->halted_loss = 0.0f;
  }
};

}  // namespace kestrel::kernels
