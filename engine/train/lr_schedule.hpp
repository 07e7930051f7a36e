#pragma once
// Learning-rate schedules, evaluated per optimizer step (0-based: lr_at(s) is the rate step s
// uses), with PyTorch's formulas so a kestrel run and a torch run of the same recipe agree.
#include <cstdint>
#include <string>
#include <string_view>

namespace kestrel::train {

enum class ScheduleKind { Constant, Step, Cosine, OneCycle, Triangular, Linear };

struct ScheduleOptions {
  ScheduleKind kind = ScheduleKind::Constant;
  float base_lr = 1e-3f;    // the peak rate (OneCycle's max_lr)
  int64_t total_steps = 1;  // steps in the whole run
  int64_t steps_per_epoch = 1;
  int64_t warmup_steps = 0;      // linear warm-up from 0 for Constant, Step and Cosine
  float min_lr = 0.0f;           // Cosine's eta_min
  int64_t step_size_epochs = 1;  // Step: multiply by gamma every step_size_epochs epochs
  float gamma = 0.1f;
  float pct_start = 0.3f;         // OneCycle: share of the run spent rising
  float div_factor = 25.0f;       // OneCycle: initial lr = max_lr / div_factor
  float final_div_factor = 1e4f;  // OneCycle: final lr = initial lr / final_div_factor
  // Triangular (airbench94's get_lr): linear from start_factor x base at step 0 to base at
  // step W = floor(peak_fraction x total), then linear to end_factor x base at step total.
  float peak_fraction = 0.23f;
  float start_factor = 0.2f;
  float end_factor = 0.07f;
  // Linear (torch's LinearLR(start_factor=1, end_factor=0), airbench94_muon's): after the
  // warm-up, base x (1 - t / span) at step t of the span of steps left, to 0 at the end.
};

class LrSchedule {
 public:
  // Throws kestrel::Error on options that make no schedule (no steps, negative rates, ...).
  explicit LrSchedule(const ScheduleOptions& options);
  float lr_at(int64_t step) const;
  const ScheduleOptions& options() const { return options_; }

 private:
  ScheduleOptions options_;
};

// constant | step | cosine | one-cycle | triangular | linear
ScheduleKind parse_schedule(std::string_view name);
std::string_view schedule_name(ScheduleKind kind);

}  // namespace kestrel::train
