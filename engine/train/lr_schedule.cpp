#include "engine/train/lr_schedule.hpp"

#include <algorithm>
#include <cmath>
#include <numbers>

#include "kernels/common/error.hpp"

namespace kestrel::train {

namespace {

// torch.optim.lr_scheduler's cosine interpolation from `start` (pct 0) to `end` (pct 1).
double cosine_anneal(double start, double end, double pct) {
  return end + (start - end) / 2.0 * (std::cos(std::numbers::pi * pct) + 1.0);
}

// torch's OneCycleLR (anneal_strategy='cos', three_phase=False): phase one rises from
// max/div to max and ends at step pct_start*total - 1; phase two falls to
// max/(div*final_div) at step total - 1.
double one_cycle(const ScheduleOptions& o, int64_t step) {
  const double max_lr = o.base_lr;
  const double initial = max_lr / o.div_factor;
  const double final_lr = initial / o.final_div_factor;
  const double end_up = static_cast<double>(o.pct_start) * static_cast<double>(o.total_steps) - 1.0;
  const double end_down = static_cast<double>(o.total_steps) - 1.0;
  const double s = static_cast<double>(step);
  if (s <= end_up) return cosine_anneal(initial, max_lr, end_up <= 0.0 ? 1.0 : s / end_up);
  const double span = end_down - end_up;
  return cosine_anneal(max_lr, final_lr, span <= 0.0 ? 1.0 : (s - end_up) / span);
}

// airbench94's schedule (a LambdaLR, so step s uses factor(s)): up from start_factor to 1 over
// the first W = floor(peak_fraction * total) steps, down to end_factor at step total.
double triangular(const ScheduleOptions& o, int64_t step) {
  const int64_t up = static_cast<int64_t>(static_cast<double>(o.total_steps) *
                                          static_cast<double>(o.peak_fraction));
  const double s = static_cast<double>(step);
  double factor;
  if (step < up) {
    const double frac = s / static_cast<double>(up);
    factor = static_cast<double>(o.start_factor) * (1.0 - frac) + frac;
  } else {
    const double frac = (s - static_cast<double>(up)) / static_cast<double>(o.total_steps - up);
    factor = (1.0 - frac) + static_cast<double>(o.end_factor) * frac;
  }
  return static_cast<double>(o.base_lr) * factor;
}

}  // namespace

LrSchedule::LrSchedule(const ScheduleOptions& o) : options_(o) {
  KESTREL_CHECK(o.base_lr > 0.0f && std::isfinite(o.base_lr),
                "learning rate must be positive and finite, got {}", o.base_lr);
  KESTREL_CHECK(o.total_steps >= 1, "a schedule needs at least one step, got {}", o.total_steps);
  KESTREL_CHECK(o.steps_per_epoch >= 1, "steps per epoch must be at least 1, got {}",
                o.steps_per_epoch);
  KESTREL_CHECK(o.warmup_steps >= 0 && o.warmup_steps < o.total_steps,
                "warm-up of {} steps must be shorter than the run's {} steps", o.warmup_steps,
                o.total_steps);
  KESTREL_CHECK(o.min_lr >= 0.0f && o.min_lr <= o.base_lr,
                "minimum learning rate {} must be in [0, {}]", o.min_lr, o.base_lr);
  KESTREL_CHECK(o.step_size_epochs >= 1, "step schedule: step size must be at least 1 epoch");
  KESTREL_CHECK(o.gamma > 0.0f && o.gamma <= 1.0f, "step schedule: gamma {} must be in (0, 1]",
                o.gamma);
  KESTREL_CHECK(o.pct_start > 0.0f && o.pct_start < 1.0f,
                "one-cycle: pct_start {} must be in (0, 1)", o.pct_start);
  KESTREL_CHECK(o.div_factor >= 1.0f && o.final_div_factor >= 1.0f,
                "one-cycle: div factors must be at least 1");
  KESTREL_CHECK(o.peak_fraction >= 0.0f && o.peak_fraction < 1.0f && o.start_factor >= 0.0f &&
                    o.end_factor >= 0.0f && std::isfinite(o.start_factor) &&
                    std::isfinite(o.end_factor),
                "triangular: peak fraction {} must be in [0, 1) and the factors {} and {} >= 0",
                o.peak_fraction, o.start_factor, o.end_factor);
}

float LrSchedule::lr_at(int64_t step) const {
  const ScheduleOptions& o = options_;
  step = std::clamp<int64_t>(step, 0, o.total_steps - 1);
  if (o.kind == ScheduleKind::OneCycle) return static_cast<float>(one_cycle(o, step));
  if (o.kind == ScheduleKind::Triangular) return static_cast<float>(triangular(o, step));

  // Linear warm-up: step s of W uses base * (s + 1) / W, reaching base on the last one.
  if (step < o.warmup_steps)
    return static_cast<float>(static_cast<double>(o.base_lr) * static_cast<double>(step + 1) /
                              static_cast<double>(o.warmup_steps));
  const double base = o.base_lr;
  switch (o.kind) {
    case ScheduleKind::Constant:
      return o.base_lr;
    case ScheduleKind::Step: {
      const int64_t epoch = step / o.steps_per_epoch;
      return static_cast<float>(base * std::pow(static_cast<double>(o.gamma),
                                                static_cast<double>(epoch / o.step_size_epochs)));
    }
    case ScheduleKind::Cosine: {
      const double span = static_cast<double>(o.total_steps - o.warmup_steps);
      const double t = static_cast<double>(step - o.warmup_steps);
      return static_cast<float>(cosine_anneal(base, o.min_lr, t / span));
    }
    case ScheduleKind::Linear: {
      const double span = static_cast<double>(o.total_steps - o.warmup_steps);
      const double t = static_cast<double>(step - o.warmup_steps);
      return static_cast<float>(base * (1.0 - t / span));
    }
    case ScheduleKind::OneCycle:
    case ScheduleKind::Triangular:
      break;
  }
  return o.base_lr;
}

ScheduleKind parse_schedule(std::string_view name) {
  if (name == "constant") return ScheduleKind::Constant;
  if (name == "step") return ScheduleKind::Step;
  if (name == "cosine") return ScheduleKind::Cosine;
  if (name == "one-cycle" || name == "onecycle") return ScheduleKind::OneCycle;
  if (name == "triangular") return ScheduleKind::Triangular;
  if (name == "linear") return ScheduleKind::Linear;
  KESTREL_FAIL(
      "unknown schedule '{}': expected constant, step, cosine, one-cycle, triangular or linear",
      name);
}

std::string_view schedule_name(ScheduleKind kind) {
  switch (kind) {
    case ScheduleKind::Constant:
      return "constant";
    case ScheduleKind::Step:
      return "step";
    case ScheduleKind::Cosine:
      return "cosine";
    case ScheduleKind::OneCycle:
      return "one-cycle";
    case ScheduleKind::Triangular:
      return "triangular";
    case ScheduleKind::Linear:
      return "linear";
  }
  return "?";
}

}  // namespace kestrel::train
