#include "engine/bench/benchmark.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <optional>

#include "engine/data/loader.hpp"
#include "engine/data/synthetic.hpp"
#include "engine/memory/memory_pool.hpp"
#include "engine/nn/summary.hpp"
#include "engine/optim/adam.hpp"
#include "engine/runtime/gpu_info.hpp"
#include "engine/runtime/nvtx.hpp"
#include "engine/runtime/profiler.hpp"
#include "engine/train/step_graph.hpp"
#include "engine/train/step_ledger.hpp"
#include "engine/train/train_step.hpp"
#include "kernels/common/error.hpp"
#include "kernels/cpu/conv2d_onednn.hpp"
#include "kernels/cpu/simd.hpp"

#if defined(KESTREL_HAVE_CUDA)
#include "engine/runtime/cuda/event.hpp"
#endif

namespace kestrel::bench {

namespace {

void check_options(const BenchOptions& o, const BenchData& d) {
  KESTREL_CHECK(o.batch >= 1 && o.batch <= 65536, "bench: --batch must be in [1, 65536], got {}",
                o.batch);
  KESTREL_CHECK(o.steps >= 1, "bench: --steps must be at least 1, got {}", o.steps);
  KESTREL_CHECK(o.warmup >= 0, "bench: --warmup must be >= 0, got {}", o.warmup);
  KESTREL_CHECK(o.repeats >= 1, "bench: --repeats must be at least 1, got {}", o.repeats);
  if (o.profile_first >= 0 || o.profile_last >= 0)
    KESTREL_CHECK(o.profile_first >= 0 && o.profile_first <= o.profile_last &&
                      o.profile_last < o.total_steps(),
                  "bench: --profile-steps {}:{} must satisfy 0 <= A <= B < {} (the steps run, "
                  "warm-up included)",
                  o.profile_first, o.profile_last, o.total_steps());
  KESTREL_CHECK(d.input_chw.ndim() == 3, "bench: the input must be [C, H, W], got {}",
                d.input_chw.str());
  KESTREL_CHECK(d.classes >= 1, "bench: classes must be positive, got {}", d.classes);
  KESTREL_CHECK(d.samples >= o.batch, "bench: {} synthetic images are fewer than one batch of {}",
                d.samples, o.batch);
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  return n % 2 == 1 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

// Times windows of steps: CUDA events on the context's stream on a GPU, the host clock after
// synchronising on the CPU.
class WindowTimer {
 public:
  // Events only for a GPU context: creating one needs a usable GPU, which a CUDA build running
  // on the CPU may not have.
  explicit WindowTimer(const Context& ctx) : ctx_(ctx) {
#if defined(KESTREL_HAVE_CUDA)
    if (ctx_.is_cuda()) {
      start_.emplace(/*timing=*/true);
      stop_.emplace(/*timing=*/true);
    }
#endif
  }

  void start() {
#if defined(KESTREL_HAVE_CUDA)
    if (ctx_.is_cuda()) {
      start_->record(ctx_.stream());
      return;
    }
#endif
    ctx_.synchronize();
    host_start_ = Clock::now();
  }

  double stop_ms() {
#if defined(KESTREL_HAVE_CUDA)
    if (ctx_.is_cuda()) {
      stop_->record(ctx_.stream());
      stop_->synchronize();
      return static_cast<double>(stop_->elapsed_ms_since(*start_));
    }
#endif
    ctx_.synchronize();
    return std::chrono::duration<double, std::milli>(Clock::now() - host_start_).count();
  }

 private:
  using Clock = std::chrono::steady_clock;
  const Context& ctx_;
  Clock::time_point host_start_;
#if defined(KESTREL_HAVE_CUDA)
  std::optional<cuda::Event> start_, stop_;
#endif
};

std::string megabytes(size_t bytes) {
  return fmt::format("{:.1f} MB", static_cast<double>(bytes) / 1e6);
}

}  // namespace

std::string_view mode_name(BenchMode mode) {
  return mode == BenchMode::Forward ? "forward" : "train";
}

double flops_per_step(int64_t forward_multiply_adds, BenchMode mode) {
  const double forward =
      static_cast<double>(kFlopsPerMultiplyAdd) * static_cast<double>(forward_multiply_adds);
  return mode == BenchMode::Train ? static_cast<double>(kTrainStepForwardMultiple) * forward
                                  : forward;
}

int64_t synthetic_samples(int64_t train_size, const Shape& input_chw, int64_t batch) {
  const int64_t image_bytes = std::max<int64_t>(1, input_chw.numel());
  const int64_t fit = kMaxSyntheticBytes / image_bytes;
  return std::max(batch, std::min(train_size, fit));
}

BenchResult run_benchmark(const Context& ctx, const GraphFactory& make_graph, const BenchData& data,
                          BenchMode mode, const BenchOptions& o) {
  check_options(o, data);
  const data::ImageDataset images = data::make_synthetic(
      data.samples, static_cast<int>(data.input_chw[0]), static_cast<int>(data.input_chw[1]),
      static_cast<int>(data.input_chw[2]), static_cast<int>(data.classes), o.seed);
  ctx.synchronize();
  ctx.pool().reset_peak();

  data::BatchLoader loader(images, ctx,
                           data::LoaderOptions::for_training(o.batch, data.normalization, {},
                                                             o.seed, /*drop_last=*/true));
  std::unique_ptr<nn::Graph> graph = make_graph();
  KESTREL_CHECK(graph != nullptr, "bench: the graph factory returned no graph");
  graph->build(ctx, data.input_chw, o.batch, data.classes);
  graph->initialize(ctx, init::InitScheme::PyTorchDefault, o.seed);
  optim::Adam optimizer(optim::AdamOptions::adamw(o.lr, o.weight_decay));
  Tensor dlogits = Tensor::empty(Shape{o.batch, data.classes}, DType::F32, ctx.device());
  // Training only: the forward benchmark allocates exactly what it did without one.
  std::optional<train::StepLedger> ledger;
  if (mode == BenchMode::Train) ledger.emplace(ctx);

  BenchResult result;
  result.mode = mode;
  const nn::GraphSummary summary = graph->summary();
  result.forward_multiply_adds = summary.multiply_adds;
  result.arena_bytes = summary.arena_bytes;
  result.flops_per_step = flops_per_step(result.forward_multiply_adds, mode);

  // The step's body (forward, or all of train_step after its inputs) is what a CUDA Graph
  // replays; batches are always full here (drop_last).
  train::StepGraph step_graph(o.graph ? train::make_step_capturer(ctx) : nullptr, o.batch);
  // The profiler bracket is for Nsight on a GPU; on a CPU context it does nothing.
  ProfilerBracket profiler(ctx, o.profile_first, o.profile_last);
  int64_t epoch = 0, step = 0;
  loader.start_epoch(epoch);
  data::Batch batch;
  const auto one_step = [&] {
    NvtxRange range(mode == BenchMode::Train ? "bench train step" : "bench forward step");
    profiler.before_step(step);
    if (!loader.next(batch)) {
      loader.start_epoch(++epoch);
      loader.next(batch);
    }
    if (mode == BenchMode::Train) {
      train::queue_step_inputs(ctx, *graph, optimizer, step, *ledger);
      step_graph.run(batch.size, [&] {
        train::queue_step_body(ctx, *graph, optimizer, batch.images, batch.labels, dlogits,
                               *ledger);
      });
    } else {
      step_graph.run(batch.size,
                     [&] { (void)graph->forward(ctx, batch.images, /*training=*/false, step); });
    }
    profiler.after_step(step);
    ++step;
  };

  // Training: the loss stays on the device, as in the trainer; it is checked after the warm-up
  // and after each window, outside the timed span.
  const auto check_loss = [&] {
    if (mode != BenchMode::Train) return;
    const train::LedgerSnapshot tally = ledger->read();
    KESTREL_CHECK(!tally.halted, "bench: the training loss became {} at step {}", tally.halted_loss,
                  tally.halted_step);
    result.last_loss = tally.last_loss;
  };
  for (int64_t i = 0; i < o.warmup; ++i) one_step();
  check_loss();
  WindowTimer timer(ctx);
  for (int64_t r = 0; r < o.repeats; ++r) {
    timer.start();
    for (int64_t i = 0; i < o.steps; ++i) one_step();
    result.window_ms.push_back(timer.stop_ms());
    check_loss();
  }

  result.median_window_ms = median(result.window_ms);
  result.ms_per_step = result.median_window_ms / static_cast<double>(o.steps);
  const double seconds_per_step = result.ms_per_step / 1e3;
  result.images_per_second = static_cast<double>(o.batch) / seconds_per_step;
  result.achieved_gflops = result.flops_per_step / seconds_per_step / 1e9;
  result.peak_memory_bytes = ctx.pool().stats().peak_in_use_bytes;
  result.graph = step_graph.status();
  return result;
}

DevicePeak device_peak(const Context& ctx, PeakPrecision precision) {
  if (!ctx.is_cuda()) return cpu_peak();
  const GpuEnvironment env = query_gpu_environment();
  for (const GpuInfo& g : env.gpus)
    if (g.index == ctx.device().index)
      return gpu_peak(g.name, g.compute_major, g.compute_minor, precision);
  return {0.0, fmt::format("unknown: {} not found", ctx.device().str())};
}

std::string device_description(const Context& ctx) {
  if (!ctx.is_cuda())
    return fmt::format("cpu, element loops on {}, convolutions {}",
                       cpu::simd_level_name(cpu::simd_level()),
                       ctx.math().cpu_onednn && cpu::onednn::built()
                           ? fmt::format("on {}", cpu::onednn::describe())
                           : std::string("by im2col + GEMM"));
  const GpuEnvironment env = query_gpu_environment();
  for (const GpuInfo& g : env.gpus)
    if (g.index == ctx.device().index) return g.name;
  return ctx.device().str();
}

nlohmann::json to_json(const BenchReport& r) {
  const BenchOptions& o = r.options;
  nlohmann::json results = nlohmann::json::array();
  for (const BenchResult& b : r.results) {
    nlohmann::json j = {{"mode", mode_name(b.mode)},
                        {"images_per_second", b.images_per_second},
                        {"ms_per_step", b.ms_per_step},
                        {"median_window_ms", b.median_window_ms},
                        {"window_ms", b.window_ms},
                        {"forward_multiply_adds", b.forward_multiply_adds},
                        {"flops_per_step", b.flops_per_step},
                        {"achieved_gflops", b.achieved_gflops},
                        {"peak_memory_bytes", b.peak_memory_bytes},
                        {"arena_bytes", b.arena_bytes}};
    j["peak_share"] = r.peak.known() ? nlohmann::json(b.achieved_gflops / r.peak.gflops)
                                     : nlohmann::json(nullptr);
    if (b.mode == BenchMode::Train) j["last_loss"] = b.last_loss;
    j["cuda_graph"] = b.graph;
    results.push_back(std::move(j));
  }
  std::vector<int64_t> input(r.data.input_chw.data(),
                             r.data.input_chw.data() + r.data.input_chw.ndim());
  return {{"model", r.model},
          {"dataset", r.data.dataset},
          {"data",
           {{"kind", "synthetic"},
            {"samples", r.data.samples},
            {"input", input},
            {"classes", r.data.classes}}},
          {"device", r.device},
          {"device_name", r.device_name},
          {"threads", r.threads},
          {"precision", r.precision},
          {"conv_layout", r.conv_layout},
          {"batch", o.batch},
          {"steps", o.steps},
          {"warmup", o.warmup},
          {"repeats", o.repeats},
          {"graph", o.graph},
          {"optimizer", {{"name", "adamw"}, {"lr", o.lr}, {"weight_decay", o.weight_decay}}},
          {"flop_convention",
           "2 x multiply-adds of convolutions and linear layers; a training step = 3 x forward"},
          {"device_peak_gflops",
           r.peak.known() ? nlohmann::json(r.peak.gflops) : nlohmann::json(nullptr)},
          {"device_peak_source", r.peak.source},
          {"results", results}};
}

std::string format_report(const BenchReport& r) {
  const BenchOptions& o = r.options;
  const Shape& s = r.data.input_chw;
  std::string out = fmt::format(
      "kestrel bench: {} on {}-shaped synthetic data ({} images of {}x{}x{} on {}, batch "
      "assembly included), batch {}\n",
      r.model, r.data.dataset, nn::with_thousands(r.data.samples), s[0], s[1], s[2], r.device,
      o.batch);
  out += fmt::format(
      "device: {}, CPU threads: {}, {}{}; median of {} windows x {} steps after {} "
      "warm-up steps\n",
      r.device_name, r.threads, r.precision,
      r.conv_layout == "nchw" ? "" : fmt::format(" (convolutions in {})", r.conv_layout), o.repeats,
      o.steps, o.warmup);
  out +=
      "FLOPs: 2 x multiply-adds of convolutions and linear layers; a training step (forward, "
      "loss, backward, AdamW) counts as 3 x forward\n";
  out += fmt::format("peak: {}\n", r.peak.known() ? fmt::format("{:.1f} TFLOP/s ({})",
                                                                r.peak.gflops / 1e3, r.peak.source)
                                                  : r.peak.source);
  out += fmt::format("{:<8} {:>12} {:>10} {:>10} {:>8} {:>12} {:>12}\n", "mode", "images/s",
                     "ms/step", "GFLOP/s", "of peak", "peak memory", "graph arena");
  for (const BenchResult& b : r.results) {
    const std::string share =
        r.peak.known() ? fmt::format("{:.1f}%", 100.0 * b.achieved_gflops / r.peak.gflops)
                       : std::string("n/a");
    out += fmt::format("{:<8} {:>12} {:>10.3f} {:>10.1f} {:>8} {:>12} {:>12}\n", mode_name(b.mode),
                       nn::with_thousands(std::llround(b.images_per_second)), b.ms_per_step,
                       b.achieved_gflops, share, megabytes(b.peak_memory_bytes),
                       megabytes(static_cast<size_t>(b.arena_bytes)));
  }
  if (r.device != "cpu")
    for (const BenchResult& b : r.results)
      out += fmt::format("CUDA Graph ({}): {}\n", mode_name(b.mode), b.graph);
  return out;
}

}  // namespace kestrel::bench
