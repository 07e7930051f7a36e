#pragma once
// What `kestrel train` shows while it runs and at the end: a progress bar with ETA, loss and
// images/s on a terminal, plain lines otherwise; then the final metrics, per-class scores and a
// compact confusion matrix.
#include <chrono>
#include <string>

#include "engine/train/trainer.hpp"

namespace kestrel::apps {

class TrainProgress final : public train::TrainObserver {
 public:
  explicit TrainProgress(bool terminal) : terminal_(terminal) {}
  // Clears a half-drawn progress bar, so that what follows (a divergence message, or an error
  // printed while the stack unwinds) starts on a line of its own.
  ~TrainProgress() override { finish(); }
  TrainProgress(const TrainProgress&) = delete;
  TrainProgress& operator=(const TrainProgress&) = delete;
  void finish();
  void on_start(const train::RunStart& s) override;
  void on_step(const train::StepProgress& p) override;
  void on_epoch(const nlohmann::json& record) override;

 private:
  bool terminal_;
  bool bar_drawn_ = false;
  int64_t epochs_left_at_start_ = 0;
  int64_t next_line_batch_ = 0;
  std::chrono::steady_clock::time_point start_;
  int64_t steps_at_start_ = -1;
  int64_t total_steps_ = 0;
};

// The closing report of a run, for the terminal.
void print_run_result(const train::RunResult& result);
// The per-class table and the confusion matrix of an evaluation.
void print_evaluation(const train::EvalResult& eval, const std::vector<std::string>& class_names);

}  // namespace kestrel::apps
