#pragma once
// The training-step benchmark behind `kestrel bench`: a model's forward pass and its full
// training step (train::train_step: forward, loss, backward, AdamW) on synthetic images held
// on the device as bytes, batched by the same BatchLoader the trainer uses (no disk, no host
// copies per step). After warm-up steps it times `repeats` windows of `steps` steps each
// (CUDA events on a GPU; steady_clock after ctx.synchronize() on the CPU) and reports the
// median window as images/s, ms/step and achieved GFLOP/s.
//
// FLOPs are 2 x the graph summary's multiply-adds (convolutions and linear layers; pooling,
// activations, the loss and the optimizer are not counted), and a training step counts as
// 3 x its forward pass (forward, then the input and weight gradients of backward).
//
// The engine does not know the models: the caller passes a factory of planned graphs.
#include <cstdint>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "engine/bench/device_peak.hpp"
#include "engine/data/normalization.hpp"
#include "engine/nn/graph.hpp"

namespace kestrel::bench {

enum class BenchMode { Forward, Train };
std::string_view mode_name(BenchMode mode);  // "forward", "train"

// What a step's FLOPs are counted as: 2 x multiply-adds, x 3 for a training step.
inline constexpr int64_t kFlopsPerMultiplyAdd = 2;
inline constexpr int64_t kTrainStepForwardMultiple = 3;
double flops_per_step(int64_t forward_multiply_adds, BenchMode mode);

// The images to run on: synthetic bytes of this shape, `samples` of them.
struct BenchData {
  std::string dataset;  // the data set whose shape this is ("mnist"), for the report
  Shape input_chw;
  int64_t classes = 10;
  int64_t samples = 0;
  data::Normalization normalization;
};

// How many synthetic images stand in for a training split of `train_size` images of
// input_chw: all of them up to kMaxSyntheticBytes of pixels, never fewer than one batch.
inline constexpr int64_t kMaxSyntheticBytes = int64_t{256} << 20;
int64_t synthetic_samples(int64_t train_size, const Shape& input_chw, int64_t batch);

struct BenchOptions {
  int64_t batch = 64;
  int64_t steps = 50;   // per timed window
  int64_t warmup = 10;  // untimed steps first
  int64_t repeats = 5;  // timed windows
  bool tf32 = false;    // GPU: TF32 tensor cores
  bool bf16 = false;    // GPU: bf16 operands on the tensor cores (MathOptions::bf16)
  // GPU: capture the step once as a CUDA Graph and replay it (train::StepGraph); the first
  // step runs eagerly, the second is captured. Ignored on the CPU.
  bool graph = false;
  // Steps [profile_first, profile_last] (0-based over warm-up and timed steps together) run
  // between cudaProfilerStart and cudaProfilerStop on a GPU (nothing on the CPU); -1: none.
  int64_t profile_first = -1, profile_last = -1;
  float lr = 1e-3f, weight_decay = 5e-4f;  // AdamW, constant rate
  uint64_t seed = 0;

  int64_t total_steps() const { return warmup + steps * repeats; }
};

// A planned (unbuilt) graph for BenchData's input and classes; called once per run.
using GraphFactory = std::function<std::unique_ptr<nn::Graph>()>;

struct BenchResult {
  BenchMode mode = BenchMode::Train;
  std::vector<double> window_ms;  // each timed window, in the order run
  double median_window_ms = 0.0;
  double ms_per_step = 0.0;
  double images_per_second = 0.0;
  int64_t forward_multiply_adds = 0;  // at the benchmark's batch
  double flops_per_step = 0.0;
  double achieved_gflops = 0.0;
  size_t peak_memory_bytes = 0;  // the device pool's high-water mark, data set included
  // The graph's planned arena (activations, their gradients, saved tensors; nn::Graph): the
  // part of the peak that liveness planning sizes.
  int64_t arena_bytes = 0;
  float last_loss = 0.0f;  // training only: the last step's loss (a sanity check)
  std::string graph;       // train::StepGraph::status() after the run
};

// Throws kestrel::Error for options out of range (naming the flag) and when a training loss
// turns NaN/inf.
BenchResult run_benchmark(const Context& ctx, const GraphFactory& make_graph, const BenchData& data,
                          BenchMode mode, const BenchOptions& options);

// The peak of ctx's device at the options' precision (unknown on the CPU).
DevicePeak device_peak(const Context& ctx, PeakPrecision precision);
// "cpu" or the GPU's name.
std::string device_description(const Context& ctx);

// A whole `kestrel bench` run: what ran, where, and one result per mode.
struct BenchReport {
  std::string model;
  BenchData data;
  std::string device;                // "cpu", "cuda:0"
  std::string device_name;           // "cpu", "NVIDIA H100 80GB HBM3"
  int threads = 0;                   // CPU threads (OpenMP)
  std::string precision;             // "fp32", "tf32", "bf16"
  std::string conv_layout = "nchw";  // the GPU convolutions' operands: "nchw", or "nhwc" (bf16)
  BenchOptions options;
  DevicePeak peak;
  std::vector<BenchResult> results;
};

// One JSON object: the run's settings, the FLOP convention, the peak and a result per mode.
nlohmann::json to_json(const BenchReport& report);
// The same as a short text table.
std::string format_report(const BenchReport& report);

}  // namespace kestrel::bench
