#include "apps/commands/bench.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <cstdio>
#include <memory>
#include <string>

#include "apps/commands/step_range.hpp"
#include "engine/bench/benchmark.hpp"
#include "engine/data/registry.hpp"
#include "engine/train/trainer.hpp"
#include "kernels/common/error.hpp"
#include "kernels/cpu/parallel.hpp"
#include "models/datasets.hpp"
#include "models/registry.hpp"

namespace kestrel::apps {

namespace {

struct BenchFlags {
  std::string model, dataset, device = "auto", precision = "fp32", mode = "both", graph = "auto";
  std::string layout = "auto";
  std::string cpu_conv = "onednn";
  std::string profile_steps;
  int64_t batch = 64, steps = 50, warmup = 10, repeats = 5;
  int threads = 0;
  bool json = false;
};

// Training-split sizes the synthetic stand-in copies (capped by bench::synthetic_samples).
int64_t train_split_size(const std::string& dataset) {
  if (dataset == "cifar10") return 50000;
  if (dataset == "imagenet") return 1281167;
  return 60000;  // mnist, fashion-mnist
}

void run_bench(const BenchFlags& f) {
  const std::string dataset =
      f.dataset.empty() ? std::string(models::default_dataset(f.model)) : f.dataset;
  const models::ModelInput in = models::dataset_input(dataset);
  try {
    (void)models::build_model(f.model, in);
  } catch (const Error& e) {
    // A model that cannot take this data set's images is a wrong choice of flags.
    throw CLI::ValidationError(e.message().empty() ? e.what() : e.message());
  }

  bench::BenchOptions o;
  o.batch = f.batch;
  o.steps = f.steps;
  o.warmup = f.warmup;
  o.repeats = f.repeats;
  o.tf32 = f.precision == "tf32";
  o.bf16 = f.precision == "bf16";
  if (!f.profile_steps.empty()) {
    const auto [a, b] = parse_step_range(f.profile_steps);
    if (b >= o.total_steps())
      throw CLI::ValidationError(
          fmt::format("--profile-steps {}: the run takes steps 0 to {} (warm-up included)",
                      f.profile_steps, o.total_steps() - 1));
    o.profile_first = a;
    o.profile_last = b;
  }
  if (f.threads > 0) cpu::set_num_threads(f.threads);

  Context ctx(train::resolve_device(f.device));
  // A figure must never claim a precision it did not use: the CPU computes in f32 (its bf16
  // is an emulation for accuracy studies, slower than f32, so not worth timing).
  if (f.precision != "fp32" && !ctx.is_cuda())
    throw CLI::ValidationError(
        fmt::format("--precision {} needs a GPU: the CPU computes in fp32 (train --bf16 emulates "
                    "bf16 there, for accuracy, not speed)",
                    f.precision));
  if (f.layout == "nhwc" && !o.bf16)
    throw CLI::ValidationError("--layout nhwc is for --precision bf16: f32 convolutions run NCHW");
  ctx.set_math({.tf32 = o.tf32,
                .bf16 = o.bf16,
                .channels_last = f.layout != "nchw",
                .deterministic = false,
                .cpu_onednn = f.cpu_conv == "onednn"});
  if (!f.profile_steps.empty() && !ctx.is_cuda()) fmt::print(stderr, "{}", kProfileStepsOnCpuNote);
  if (f.graph == "on" && !ctx.is_cuda())
    throw CLI::ValidationError("--graph on needs a GPU: the CPU runs every step as it comes");
  o.graph = ctx.is_cuda() && f.graph != "off";

  bench::BenchReport report;
  report.model = f.model;
  report.data.dataset = dataset;
  report.data.input_chw = in.shape();
  report.data.classes = in.classes;
  report.data.samples = bench::synthetic_samples(train_split_size(dataset), in.shape(), o.batch);
  report.data.normalization = data::lab_normalization(static_cast<int>(in.channels));
  report.device = ctx.device().str();
  report.device_name = bench::device_description(ctx);
  report.threads = cpu::num_threads();
  report.precision = f.precision;
  report.conv_layout =
      ctx.is_cuda() && ctx.math().bf16 && ctx.math().channels_last ? "nhwc" : "nchw";
  report.options = o;
  report.peak = bench::device_peak(ctx, o.bf16   ? bench::PeakPrecision::BF16
                                        : o.tf32 ? bench::PeakPrecision::TF32
                                                 : bench::PeakPrecision::FP32);

  const bench::GraphFactory make_graph = [&] { return models::build_model(f.model, in); };
  if (f.mode == "forward" || f.mode == "both")
    report.results.push_back(
        bench::run_benchmark(ctx, make_graph, report.data, bench::BenchMode::Forward, o));
  if (f.mode == "train" || f.mode == "both")
    report.results.push_back(
        bench::run_benchmark(ctx, make_graph, report.data, bench::BenchMode::Train, o));

  if (f.json)
    fmt::print("{}\n", bench::to_json(report).dump());
  else
    fmt::print("{}", bench::format_report(report));
  std::fflush(stdout);
}

}  // namespace

void register_bench_command(CLI::App& app) {
  auto f = std::make_shared<BenchFlags>();
  auto* cmd = app.add_subcommand(
      "bench", "Time a model's forward pass and training step on synthetic on-device data");
  cmd->add_option("model", f->model,
                  fmt::format("{}", fmt::join(models::model_names(), " | ")))
      ->required()
      ->check(CLI::IsMember(models::model_names()));
  cmd->add_option("--dataset", f->dataset,
                  "Shape of the synthetic images: mnist | fashion-mnist | cifar10 | imagenet "
                  "(default: the model's)")
      ->check(CLI::IsMember(models::dataset_names()));
  cmd->add_option("--batch", f->batch, "Batch size (64)")
      ->check(CLI::Range(int64_t{1}, int64_t{65536}));
  cmd->add_option("--steps", f->steps, "Steps per timed window (50)")
      ->check(CLI::Range(int64_t{1}, int64_t{1000000}));
  cmd->add_option("--warmup", f->warmup, "Untimed steps first (10)")
      ->check(CLI::Range(int64_t{0}, int64_t{1000000}));
  cmd->add_option("--repeats", f->repeats, "Timed windows; the median is reported (5)")
      ->check(CLI::Range(int64_t{1}, int64_t{10000}));
  cmd->add_option("--device", f->device, "auto | cpu | cuda | cuda:N (auto)");
  cmd->add_option("--precision", f->precision,
                  "fp32 | tf32 (GPU) | bf16 (GPU: bf16 operands, f32 accumulation and master "
                  "weights) (fp32)")
      ->check(CLI::IsMember({"fp32", "tf32", "bf16"}));
  cmd->add_option("--layout", f->layout,
                  "auto | nchw | nhwc: the bf16 convolutions' operand layout on the GPU (auto: "
                  "nhwc, channels-last, the tensor cores' own)")
      ->check(CLI::IsMember({"auto", "nchw", "nhwc"}));
  cmd->add_option("--cpu-conv", f->cpu_conv,
                  "onednn | im2col: the CPU's convolutions (onednn where the build has it, else "
                  "im2col + GEMM; im2col gives the same bits for any thread count) (onednn)")
      ->check(CLI::IsMember({"onednn", "im2col"}));
  cmd->add_option("--graph", f->graph,
                  "auto | on | off: capture the step as a CUDA Graph and replay it (auto: on a "
                  "GPU)")
      ->check(CLI::IsMember({"auto", "on", "off"}));
  cmd->add_option("--mode", f->mode, "train | forward | both (both)")
      ->check(CLI::IsMember({"train", "forward", "both"}));
  cmd->add_option("--threads", f->threads, "CPU threads (default: all cores)")
      ->check(CLI::Range(1, 1024));
  cmd->add_option("--profile-steps", f->profile_steps,
                  "A:B: run steps A..B (0-based, warm-up included) between cudaProfilerStart "
                  "and cudaProfilerStop");
  cmd->add_flag("--json", f->json, "Print one JSON object instead of the table");
  cmd->callback([f] { run_bench(*f); });
}

}  // namespace kestrel::apps
