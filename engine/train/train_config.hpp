#pragma once
// Everything a training run is configured by, with the recipes kestrel uses by default for each
// model and data set. Serialised whole into config.json and into every checkpoint.
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "engine/data/augment.hpp"
#include "engine/runtime/context.hpp"
#include "engine/train/lr_schedule.hpp"
#include "engine/train/param_group_rule.hpp"
#include "engine/train/tta.hpp"

namespace kestrel::train {

struct TrainConfig {
  std::string model = "lenet5";
  std::string dataset = "mnist";
  std::string data_dir = "data";
  int64_t epochs = 10;
  int64_t batch = 128;
  std::string optimizer = "adamw";  // adam | adamw | sgd | muon
  float lr = 3e-3f;                 // the peak rate of the schedule
  float momentum = 0.9f;            // sgd
  bool nesterov = true;             // sgd
  float weight_decay = 5e-4f;
  // muon (optim::Muon): the weight matrices (train::muon_matrices) on Muon at muon_lr when the
  // schedule is at lr (the two scale together), everything else on SGD with lr, momentum,
  // nesterov and weight_decay above.
  float muon_lr = 0.02f;
  float muon_momentum = 0.95f;
  int muon_ns_steps = 5;
  bool muon_normalize_weights = false;
  // No weight decay for parameters with at most one dimension (biases, normalisation
  // weights): nn::exempt_from_weight_decay, timm's rule.
  bool no_decay_norm_bias = false;
  // Parameter groups by name (--param-group): a trainable parameter joins the first rule whose
  // pattern matches it, with that rule's rate and decay scales and epochs; the parameters no
  // rule matches keep the optimizer's own (and --no-decay-norm-bias's exemption). At most
  // kernels::kMaxParamGroups groups in all (train/param_group_plan.hpp).
  std::vector<ParamGroupRule> param_groups;
  // > 0: keep a moving average of the weights with this decay (train::WeightEma) and evaluate
  // and save it; 0: off.
  double ema_decay = 0.0;
  // > 0: lookahead averaging of the weights (train::Lookahead, airbench94's) with this decay,
  // pulling every lookahead_every steps; 0: off. Exclusive with ema_decay.
  double lookahead_decay = 0.0;
  int64_t lookahead_every = 5;
  ScheduleKind schedule = ScheduleKind::OneCycle;
  int64_t warmup_epochs = 0;  // constant, step and cosine schedules
  float label_smoothing = 0.0f;
  float clip_norm = 0.0f;          // 0: no gradient clipping
  int crop_padding = 0;            // random crop with this padding (0: off)
  data::PaddingMode crop_padding_mode = data::PaddingMode::Zero;  // zeros or reflection
  bool hflip = false;              // random horizontal flips
  bool alternate_flip = false;     // with hflip: airbench's alternating flips (AugmentOptions)
  bool lab_normalization = false;  // (0.5, 0.5) as the lab did, instead of the data set's stats
  bool drop_last = false;
  int64_t train_limit = 0;  // > 0: train on the first N training images only
  int64_t test_limit = 0;   // > 0: evaluate on the first N test images only
  Tta tta = Tta::None;       // test-time augmentation at evaluation
  uint64_t seed = 0;
  std::string device = "auto";  // auto | cpu | cuda | cuda:N
  bool deterministic = false;
  bool tf32 = false;
  // bf16 operands for convolutions and products, f32 master weights and accumulation
  // (MathOptions::bf16). Emulated on the CPU.
  bool bf16 = false;
  // Stop once the test top-1 (a fraction) reaches this after an epoch; 0: train every epoch.
  // The run's time to it, training steps only, is what `train --target-accuracy` reports.
  double target_top1 = 0.0;
  double dist_bucket_mb = 25.0;  // data parallel: gradient bucket size (PyTorch DDP's default)
  std::string out_dir = "runs";
  std::string name;    // run directory name; default <model>-<dataset>-<time>
  std::string resume;  // checkpoint to continue from ("" = start fresh)
  // Steps [profile_first, profile_last] (optimizer steps of the run, 0-based) are bracketed by
  // cudaProfilerStart/Stop on a GPU; -1: no bracket. How this invocation is observed, not part
  // of the recipe, so not saved in config.json.
  int64_t profile_first = -1, profile_last = -1;
  // Read the step ledger (loss, hits, divergence) back every N steps; 0: automatic (every step
  // on the CPU, every 50 on a GPU). Observation again: the weights and metrics do not depend
  // on it, so it is not saved either.
  int64_t sync_every = 0;
  // auto | on | off: on a GPU, capture a full-batch step once as a CUDA Graph and replay it
  // (auto: on a GPU with one rank; on: the same, and an error where that cannot be). The same
  // kernels run either way, so it is not saved.
  std::string graph = "auto";

  nlohmann::json to_json() const;
  static TrainConfig from_json(const nlohmann::json& j);
};

// The recipe for `model` on `dataset`: epochs, batch, optimizer, rates, schedule and
// augmentation that train it well (documented in README and docs/lab.md).
TrainConfig default_config(const std::string& model, const std::string& dataset);

// How a run's convolutions and products compute (its context's MathOptions): its precision,
// and on the CPU oneDNN's convolutions unless --deterministic asks for im2col + GEMM (the same
// bits for any thread count). Re-evaluating a checkpoint the run's way takes these too.
MathOptions math_options(const TrainConfig& c);

}  // namespace kestrel::train
