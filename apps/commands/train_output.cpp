#include "apps/commands/train_output.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cstdio>

namespace kestrel::apps {

namespace {

std::string duration(double seconds) {
  const int64_t s = static_cast<int64_t>(seconds + 0.5);
  if (s >= 3600) return fmt::format("{}h{:02}m", s / 3600, (s % 3600) / 60);
  return fmt::format("{}:{:02}", s / 60, s % 60);
}

}  // namespace

void TrainProgress::on_start(const train::RunStart& s) {
  start_ = std::chrono::steady_clock::now();
  fmt::print(stderr,
             "kestrel: training on {} | {} parameters | {} training / {} test images | {} "
             "batches per epoch\nkestrel: run directory {}\n",
             s.device.str(), s.parameters, s.train_samples, s.eval_samples, s.batches_per_epoch,
             s.run_dir);
  if (s.world_size > 1)
    fmt::print(
        stderr, "kestrel: data parallel over {} ranks ({}): global batch {} = {} per rank x {}\n",
        s.world_size, s.dist_backend, s.global_batch, s.global_batch / s.world_size, s.world_size);
  if (s.bf16)
    fmt::print(stderr,
               "kestrel: bf16 operands for convolutions and products, f32 master weights{}\n",
               s.device.is_cuda() ? "" : " (emulated on the CPU: slower than f32, for accuracy)");
  if (s.target_top1 > 0.0)
    fmt::print(stderr, "kestrel: stopping once the test top-1 reaches {:.2f}%\n",
               100.0 * s.target_top1);
  if (s.first_epoch > 0) fmt::print(stderr, "kestrel: resuming after epoch {}\n", s.first_epoch);
}

void TrainProgress::on_step(const train::StepProgress& p) {
  if (steps_at_start_ < 0) {
    steps_at_start_ = p.step - 1;
    total_steps_ = (p.epochs - p.epoch) * p.batches;
  }
  const double elapsed =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  const int64_t done = p.step - steps_at_start_;
  const double eta = done > 0 ? elapsed / static_cast<double>(done) *
                                    static_cast<double>(std::max<int64_t>(0, total_steps_ - done))
                              : 0.0;
  if (terminal_) {
    constexpr int kWidth = 24;
    const int filled = static_cast<int>(kWidth * p.batch / std::max<int64_t>(1, p.batches));
    fmt::print(stderr,
               "\repoch {}/{} [{}{}] {}/{} loss {:.4f} | {:.0f} img/s | lr {:.2e} | ETA {} ",
               p.epoch + 1, p.epochs, std::string(static_cast<size_t>(filled), '#'),
               std::string(static_cast<size_t>(kWidth - filled), '.'), p.batch, p.batches, p.loss,
               p.images_per_second, p.lr, duration(eta));
    std::fflush(stderr);
    bar_drawn_ = true;
    return;
  }
  // Not a terminal: a line every quarter epoch.
  if (p.batch == 1) next_line_batch_ = std::max<int64_t>(1, p.batches / 4);
  if (p.batch >= next_line_batch_ && p.batch < p.batches) {
    fmt::print(stderr, "epoch {}/{} batch {}/{} loss {:.4f} | {:.0f} img/s | lr {:.2e} | ETA {}\n",
               p.epoch + 1, p.epochs, p.batch, p.batches, p.loss, p.images_per_second, p.lr,
               duration(eta));
    next_line_batch_ += std::max<int64_t>(1, p.batches / 4);
  }
}

void TrainProgress::finish() {
  if (bar_drawn_) fmt::print(stderr, "\r\033[K");
  bar_drawn_ = false;
}

void TrainProgress::on_epoch(const nlohmann::json& r) {
  finish();
  const auto& e = r["eval"];
  std::string top5;
  if (e.contains("top5")) top5 = fmt::format(" top-5 {:.2f}%", 100.0 * e["top5"].get<double>());
  // With --ema the test figures are the averaged weights'; the live weights' top-1 follows.
  std::string raw;
  if (r.contains("eval_raw"))
    raw = fmt::format(" (raw {:.2f}%)", 100.0 * r["eval_raw"]["top1"].get<double>());
  fmt::print(
      "epoch {:>3} | train loss {:.4f} acc {:.2f}% | test loss {:.4f} top-1 {:.2f}%{}{} "
      "macro-F1 {:.4f} | {:.0f} img/s, {:.1f} s{}\n",
      r["epoch"].get<int64_t>(), r["train"]["loss"].get<double>(),
      100.0 * r["train"]["accuracy"].get<double>(), e["loss"].get<double>(),
      100.0 * e["top1"].get<double>(), raw, top5, e["macro_f1"].get<double>(),
      r["train"]["images_per_second"].get<double>(), r["train"]["seconds"].get<double>(),
      r["best"].get<bool>() ? " *" : "");
  std::fflush(stdout);
}

void print_evaluation(const train::EvalResult& eval, const std::vector<std::string>& names) {
  const auto scores = eval.confusion.per_class();
  size_t width = 5;
  for (const auto& n : names) width = std::max(width, n.size());
  fmt::print("\n{:<{}}  precision  recall     f1  support\n", "class", width);
  for (size_t k = 0; k < scores.size(); ++k) {
    fmt::print("{:<{}}  {:>9.4f}  {:>6.4f}  {:>5.4f}  {:>7}\n",
               k < names.size() ? names[k] : std::to_string(k), width, scores[k].precision,
               scores[k].recall, scores[k].f1, scores[k].support);
  }
  // Rows: true class; columns: predicted class (by index, named in the table above).
  const int c = eval.confusion.classes();
  fmt::print("\nconfusion matrix (rows: true, columns: predicted)\n{:>{}}", "", width + 1);
  for (int p = 0; p < c; ++p) fmt::print("{:>6}", p);
  fmt::print("\n");
  for (int t = 0; t < c; ++t) {
    fmt::print(
        "{:<{}} ",
        t < static_cast<int>(names.size()) ? names[static_cast<size_t>(t)] : std::to_string(t),
        width);
    for (int p = 0; p < c; ++p) fmt::print("{:>6}", eval.confusion.count(t, p));
    fmt::print("\n");
  }
}

void print_run_result(const train::RunResult& r) {
  if (r.status == train::RunStatus::Diverged) {
    fmt::print(stderr, "kestrel: training stopped: {}\n", r.message);
    return;
  }
  const auto& e = r.last_eval;
  fmt::print("\nfinal: test top-1 {:.2f}%", 100.0 * e.top1);
  if (e.top5 >= 0.0) fmt::print(", top-5 {:.2f}%", 100.0 * e.top5);
  fmt::print(", macro-F1 {:.4f}, loss {:.4f} | best top-1 {:.2f}% at epoch {}\n",
             e.confusion.macro_f1(), e.loss, 100.0 * r.best_top1, r.best_epoch);
  fmt::print("time: {:.1f} s training, {:.1f} s in all\n", r.train_seconds, r.total_seconds);
  if (r.target_top1 > 0.0 && r.target_epoch > 0)
    fmt::print("target: {:.2f}% test top-1 reached at epoch {}, after {:.2f} s of training\n",
               100.0 * r.target_top1, r.target_epoch, r.seconds_to_target);
  else if (r.target_top1 > 0.0)
    fmt::print("target: {:.2f}% test top-1 not reached in {} epochs (best {:.2f}%)\n",
               100.0 * r.target_top1, r.epochs_done, 100.0 * r.best_top1);
  if (!r.cuda_graph.empty()) fmt::print("CUDA Graph: {}\n", r.cuda_graph);
  print_evaluation(e, r.class_names);
  fmt::print(
      "\nrun directory: {} (metrics.jsonl, config.json, best.safetensors, "
      "last.safetensors)\n",
      r.run_dir);
}

}  // namespace kestrel::apps
