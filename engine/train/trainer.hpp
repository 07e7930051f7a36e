#pragma once
// The training driver: builds the model, data loaders, optimizer and schedule from a
// TrainConfig, then runs epochs of training steps, evaluates after each epoch, logs metrics,
// keeps the last and the best checkpoints, and stops cleanly when the loss stops being finite.
#include <cstdint>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "engine/core/device.hpp"
#include "engine/dist/communicator.hpp"
#include "engine/nn/graph.hpp"
#include "engine/train/evaluate.hpp"
#include "engine/train/train_config.hpp"

namespace kestrel::train {

struct RunStart {
  std::string run_dir;
  Device device;
  int world_size = 1;        // data-parallel ranks
  std::string dist_backend;  // "local", "mpi" or "nccl"
  int64_t global_batch = 0;  // per-rank batch x ranks
  int64_t parameters = 0;
  int64_t train_samples = 0, eval_samples = 0;
  int64_t batches_per_epoch = 0;
  int64_t first_epoch = 0;  // > 0 when resuming
  bool bf16 = false;        // MathOptions::bf16 (emulated when `device` is the CPU)
  double target_top1 = 0.0;  // TrainConfig::target_top1 (0: none)
};

struct StepProgress {
  int64_t epoch = 0, epochs = 0;   // epoch is 0-based
  int64_t batch = 0, batches = 0;  // batch is 1-based: batches done in this epoch
  int64_t step = 0;                // optimizer steps taken in the run
  double loss = 0.0;               // mean training loss of this epoch so far
  double images_per_second = 0.0;  // this epoch so far
  float lr = 0.0f;
};

// Receives progress; the CLI draws a progress bar or prints lines from it.
class TrainObserver {
 public:
  virtual ~TrainObserver() = default;
  virtual void on_start(const RunStart&) {}
  virtual void on_step(const StepProgress&) {}
  virtual void on_epoch(const nlohmann::json& /*record*/) {}
};

enum class RunStatus { Completed, Diverged };

struct RunResult {
  RunStatus status = RunStatus::Completed;
  std::string run_dir;
  std::string message;      // why a diverged run stopped
  int64_t epochs_done = 0;  // epochs completed, resumed ones included
  int64_t best_epoch = 0;   // 1-based epoch of the best evaluation accuracy
  double best_top1 = 0.0;
  EvalResult last_eval;
  std::vector<std::string> class_names;
  double train_seconds = 0.0;  // this invocation's time in training steps
  // The run's time in training steps, the invocations it resumed included.
  double run_train_seconds = 0.0;
  // With TrainConfig::target_top1: the epoch whose evaluation first reached it (0: none did,
  // and the run trained every epoch) and run_train_seconds at its end: the time to accuracy.
  double target_top1 = 0.0;  // the configuration's (0: none)
  int64_t target_epoch = 0;
  double seconds_to_target = 0.0;
  double total_seconds = 0.0;  // this invocation, set-up and evaluation included
  std::string cuda_graph;      // StepGraph::status() at the end ("" on the CPU)
};

// Makes the (planned, unbuilt) graph of a model by name for images [C, H, W] and a class
// count. The CLI passes models::build_model; the engine does not reach up into models/.
using ModelBuilder = std::function<std::unique_ptr<nn::Graph>(
    const std::string& model, const Shape& input_chw, int64_t classes)>;

// Throws kestrel::Error for configurations and data that cannot run (the message says what to
// change); returns Diverged, with the last good checkpoint kept, when the loss turns NaN/inf.
RunResult run_training(const TrainConfig& config, const ModelBuilder& build_model,
                       TrainObserver& observer);

// The same run as one rank of a data-parallel job (docs/distributed.md): config.batch is the
// per-rank batch, so the global batch is config.batch x comm.size(); rank r trains on its shard
// of every global batch and the gradients are summed over the ranks, so R ranks take the same
// steps as one process with batch config.batch x R (up to the order of the floating-point
// sums). Evaluation is sharded and its results summed. Only rank 0 writes the run directory
// (config, metrics, checkpoints) and tells `observer`; every rank returns the same result
// (run_dir is rank 0's). Every rank must call it with the same configuration.
RunResult run_training(const TrainConfig& config, const ModelBuilder& build_model,
                       TrainObserver& observer, dist::Communicator& comm);

// The device "auto" means: a GPU when one is usable, else the CPU; "cuda" (and "auto" with
// GPUs) means the GPU of the rank's local rank, or cuda:0 when the process sees exactly one
// GPU (a launcher that gives each rank its own, e.g. through CUDA_VISIBLE_DEVICES).
Device resolve_device(const std::string& name, int local_rank = 0);

// How often the training loop reads its step ledger back (the running loss, hits and the
// divergence check): `requested` steps, or for 0 every step on the CPU (host memory: reading
// costs nothing) and every kGpuSyncEvery steps on a GPU, where each read waits for the device.
// Every epoch's last step is read as well. A negative count is refused earlier, with the
// rest of the configuration.
inline constexpr int64_t kGpuSyncEvery = 50;
int64_t resolve_sync_every(int64_t requested, Device device);

}  // namespace kestrel::train
