#include "engine/train/trainer.hpp"

#include <chrono>
#include <cmath>
#include <filesystem>
#include <memory>
#include <optional>

#include "engine/checkpoint/checkpoint.hpp"
#include "engine/core/version.hpp"
#include "engine/data/loader.hpp"
#include "engine/data/registry.hpp"
#include "engine/dist/fault_injection.hpp"
#include "engine/dist/local_communicator.hpp"
#include "engine/init/patch_whitening.hpp"
#include "engine/ops/grad_norm.hpp"
#include "engine/optim/adam.hpp"
#include "engine/optim/muon.hpp"
#include "engine/optim/sgd.hpp"
#include "engine/run/run_directory.hpp"
#include "engine/runtime/gpu_info.hpp"
#include "engine/runtime/nvtx.hpp"
#include "engine/runtime/profiler.hpp"
#include "engine/train/data_parallel.hpp"
#include "engine/train/gradient_reducer.hpp"
#include "engine/train/lookahead.hpp"
#include "engine/train/muon_matrices.hpp"
#include "engine/train/param_group_plan.hpp"
#include "engine/train/step_graph.hpp"
#include "engine/train/step_ledger.hpp"
#include "engine/train/train_step.hpp"
#include "engine/train/weight_ema.hpp"

namespace kestrel::train {

namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}

std::unique_ptr<optim::Optimizer> make_optimizer(const TrainConfig& c, const nn::Graph& graph) {
  if (c.optimizer == "adam" || c.optimizer == "adamw") {
    optim::AdamOptions o;
    o.lr = c.lr;
    o.weight_decay = c.weight_decay;
    o.decoupled = c.optimizer == "adamw";
    return std::make_unique<optim::Adam>(o);
  }
  if (c.optimizer == "sgd") {
    optim::SgdOptions o;
    o.lr = c.lr;
    o.momentum = c.momentum;
    o.nesterov = c.nesterov && c.momentum > 0.0f;
    o.weight_decay = c.weight_decay;
    return std::make_unique<optim::Sgd>(o);
  }
  if (c.optimizer == "muon") {
    optim::MuonOptions o;
    o.sgd.lr = c.lr;
    o.sgd.momentum = c.momentum;
    o.sgd.nesterov = c.nesterov && c.momentum > 0.0f;
    o.sgd.weight_decay = c.weight_decay;
    o.lr = c.muon_lr;
    o.momentum = c.muon_momentum;
    o.nesterov = c.nesterov && c.muon_momentum > 0.0f;
    o.ns_steps = c.muon_ns_steps;
    o.normalize_weights = c.muon_normalize_weights;
    o.matrices = muon_matrices(graph);
    return std::make_unique<optim::Muon>(std::move(o));
  }
  KESTREL_FAIL("unknown optimizer '{}': expected adam, adamw, sgd or muon", c.optimizer);
}

void check_config(const TrainConfig& c) {
  KESTREL_CHECK(c.epochs >= 1, "--epochs must be at least 1, got {}", c.epochs);
  KESTREL_CHECK(c.batch >= 1 && c.batch <= 65536, "--batch must be in [1, 65536], got {}", c.batch);
  KESTREL_CHECK(c.lr > 0.0f && std::isfinite(c.lr), "--lr must be positive, got {}", c.lr);
  KESTREL_CHECK(c.weight_decay >= 0.0f, "--weight-decay must be >= 0, got {}", c.weight_decay);
  KESTREL_CHECK(c.muon_lr > 0.0f && std::isfinite(c.muon_lr), "--muon-lr must be positive, got {}",
                c.muon_lr);
  KESTREL_CHECK(c.muon_momentum >= 0.0f && c.muon_momentum < 1.0f,
                "--muon-momentum must be in [0, 1), got {}", c.muon_momentum);
  KESTREL_CHECK(c.muon_ns_steps >= 1 && c.muon_ns_steps <= 20,
                "--muon-ns-steps must be in [1, 20], got {}", c.muon_ns_steps);
  KESTREL_CHECK(c.ema_decay == 0.0 || (c.ema_decay > 0.0 && c.ema_decay < 1.0),
                "--ema must be in (0, 1), got {}", c.ema_decay);
  KESTREL_CHECK(c.lookahead_decay == 0.0 || (c.lookahead_decay > 0.0 && c.lookahead_decay < 1.0),
                "--lookahead must be in (0, 1), got {}", c.lookahead_decay);
  KESTREL_CHECK(c.lookahead_every >= 1, "--lookahead-every must be at least 1, got {}",
                c.lookahead_every);
  KESTREL_CHECK(c.ema_decay == 0.0 || c.lookahead_decay == 0.0,
                "--ema and --lookahead are two averages of the weights: choose one");
  KESTREL_CHECK(c.label_smoothing >= 0.0f && c.label_smoothing < 1.0f,
                "--label-smoothing must be in [0, 1), got {}", c.label_smoothing);
  KESTREL_CHECK(c.clip_norm >= 0.0f, "--clip-norm must be >= 0, got {}", c.clip_norm);
  KESTREL_CHECK(c.crop_padding >= 0 && c.crop_padding <= 16,
                "--crop-padding must be in [0, 16], got {}", c.crop_padding);
  KESTREL_CHECK(c.warmup_epochs >= 0 && c.warmup_epochs < c.epochs,
                "--warmup-epochs must be in [0, epochs), got {}", c.warmup_epochs);
  KESTREL_CHECK(c.train_limit >= 0, "--train-limit must be >= 0, got {}", c.train_limit);
  KESTREL_CHECK(c.test_limit >= 0, "--test-limit must be >= 0, got {}", c.test_limit);
  KESTREL_CHECK(c.graph == "auto" || c.graph == "on" || c.graph == "off",
                "--graph must be auto, on or off, got '{}'", c.graph);
  KESTREL_CHECK(c.sync_every >= 0, "--sync-every must be >= 0 (0: automatic), got {}",
                c.sync_every);
  KESTREL_CHECK(c.dist_bucket_mb > 0.0 && std::isfinite(c.dist_bucket_mb),
                "--dist-bucket-mb must be positive, got {}", c.dist_bucket_mb);
  KESTREL_CHECK(c.target_top1 >= 0.0 && c.target_top1 <= 1.0,
                "--target-accuracy must be in [0, 100] percent, got {}", 100.0 * c.target_top1);
  KESTREL_CHECK(!(c.tf32 && c.bf16),
                "--tf32 and --bf16 are two precisions for the same products: choose one");
  for (const ParamGroupRule& rule : c.param_groups) check_param_group_rule(rule);
}

// What ranks other than 0 tell: nothing.
class SilentObserver final : public TrainObserver {};

data::ImageDataset first_images(const data::ImageDataset& d, int64_t n) {
  if (n <= 0 || n >= d.size()) return d;
  data::ImageDataset out = d;
  out.images = d.images.slice(0, n);
  out.labels = d.labels.slice(0, n);
  out.name = d.name + fmt::format("[:{}]", n);
  return out;
}

checkpoint::NamedTensors named(const std::vector<nn::NamedTensor>& tensors) {
  checkpoint::NamedTensors out;
  for (const auto& p : tensors) out.emplace_back(p.name, p.tensor);
  return out;
}

// Views of a flat buffer laid out like the graph's parameters, under their names.
checkpoint::NamedTensors named_like_parameters(const nn::Graph& graph, const Tensor& flat,
                                               std::string_view prefix = {}) {
  checkpoint::NamedTensors out;
  for (const nn::ParamInfo& p : graph.parameter_infos())
    out.emplace_back(std::string(prefix) + p.name, flat.sub(p.offset, p.shape));
  return out;
}

// The first `n` training images as the model sees them (normalised, not augmented), on the
// host: what a patch-whitening layer is computed from. airbench94 takes its first 5,000.
constexpr int64_t kWhiteningImages = 5000;

Tensor whitening_images(const data::ImageDataset& train_set, const data::Normalization& stats,
                        int64_t n) {
  const data::ImageDataset first = first_images(train_set, n);
  const Context host(Device::cpu());
  data::BatchLoader loader(first, host, data::LoaderOptions::for_evaluation(first.size(), stats));
  loader.start_epoch(0);
  data::Batch batch;
  KESTREL_CHECK(loader.next(batch), "patch whitening: no training images");
  Tensor images = Tensor::empty(batch.images.shape(), DType::F32, Device::cpu());
  images.copy_from(batch.images);
  return images;
}

}  // namespace

int64_t resolve_sync_every(int64_t requested, Device device) {
  if (requested > 0) return requested;
  return device.is_cuda() ? kGpuSyncEvery : 1;
}

Device resolve_device(const std::string& name, int local_rank) {
  const int gpus = cuda_device_count();
  if (name == "auto" && gpus == 0) return Device::cpu();
  if (name == "auto" || name == "cuda") return Device::cuda(gpus == 1 ? 0 : local_rank);
  return Device::parse(name);
}

RunResult run_training(const TrainConfig& config, const ModelBuilder& build_model,
                       TrainObserver& observer) {
  dist::LocalCommunicator local;
  return run_training(config, build_model, observer, local);
}

RunResult run_training(const TrainConfig& config, const ModelBuilder& build_model,
                       TrainObserver& lead_observer, dist::Communicator& comm) {
  const auto run_start = Clock::now();
  check_config(config);
  // Rank 0 leads: it alone writes the run directory and reports progress.
  const bool lead = comm.rank() == 0;
  const int ranks = comm.size();
  SilentObserver silent;
  TrainObserver& observer = lead ? lead_observer : silent;
  const Device device = resolve_device(config.device, comm.local_rank());
  Context ctx(device);
  ctx.set_math(math_options(config));
  // A capture needs one process that reduces nothing: a communicator's collectives (NCCL's
  // included, even with one rank) stay out of the graph.
  const bool graph_possible = ctx.is_cuda() && ranks == 1 && comm.backend() == "local";
  KESTREL_CHECK(config.graph != "on" || graph_possible,
                "--graph on needs a GPU and a single process (here: {}, {} rank(s), {})",
                device.str(), ranks, comm.backend());

  // Data, on the training device once.
  const data::ImageDataset train_set = first_images(
      data::load_dataset(config.dataset, "train", config.data_dir), config.train_limit);
  const data::ImageDataset test_set = first_images(
      data::load_dataset(config.dataset, "test", config.data_dir), config.test_limit);
  const auto stats = config.lab_normalization
                         ? data::lab_normalization(static_cast<int>(train_set.channels()))
                         : data::dataset_normalization(config.dataset);
  data::AugmentOptions augment;
  augment.crop_padding = config.crop_padding;
  augment.padding_mode = config.crop_padding_mode;
  augment.hflip = config.hflip;
  augment.alternate_flip = config.alternate_flip;
  // Each rank loads its shard of every global batch and of the test split.
  auto train_options = data::LoaderOptions::for_training(config.batch, stats, augment, config.seed,
                                                         config.drop_last);
  auto eval_options = data::LoaderOptions::for_evaluation(config.batch, stats);
  for (data::LoaderOptions* o : {&train_options, &eval_options}) {
    o->shard_rank = comm.rank();
    o->shard_count = ranks;
  }
  data::BatchLoader train_loader(train_set, ctx, train_options);
  data::BatchLoader eval_loader(test_set, ctx, eval_options);

  // Model, optimizer, schedule.
  std::unique_ptr<nn::Graph> graph =
      build_model(config.model, Shape{train_set.channels(), train_set.height(), train_set.width()},
                  train_set.classes);
  graph->build(ctx, config.batch);
  graph->initialize(ctx, init::InitScheme::PyTorchDefault, config.seed);
  // A patch-whitening first layer (airbench94's) starts from the training images themselves.
  if (const auto whitened = graph->patch_whitened_parameters();
      !whitened.empty() && config.resume.empty()) {
    const Tensor images = whitening_images(train_set, stats, kWhiteningImages);
    for (const nn::NamedTensor& p : whitened) {
      Tensor view = p.tensor;
      init::patch_whitening(ctx, view, images);
    }
  }
  std::unique_ptr<optim::Optimizer> optimizer = make_optimizer(config, *graph);
  // param_groups as PyTorch users make them: by name (the rules), and decay for weights, none
  // for 1-D parameters (--no-decay-norm-bias). Each epoch sets the rates of its groups below.
  const ParamGroupPlan group_plan =
      plan_param_groups(config.param_groups, config.no_decay_norm_bias, *graph, device);
  if (group_plan.groups.index.defined()) optimizer->set_param_groups(group_plan.groups);
  std::optional<WeightEma> ema;
  if (config.ema_decay > 0.0) ema.emplace(config.ema_decay);
  std::optional<Lookahead> lookahead;
  if (config.lookahead_decay > 0.0) lookahead.emplace(config.lookahead_decay, config.lookahead_every);
  const int64_t batches = train_loader.batches_per_epoch();
  KESTREL_CHECK(batches > 0, "the training set ({} images) gives no batch of {} with --drop-last",
                train_set.size(), config.batch * ranks);
  ScheduleOptions so;
  so.kind = config.schedule;
  so.base_lr = config.lr;
  so.total_steps = config.epochs * batches;
  so.steps_per_epoch = batches;
  // One-cycle and triangular shape their own start.
  so.warmup_steps = config.schedule == ScheduleKind::OneCycle ||
                            config.schedule == ScheduleKind::Triangular
                        ? 0
                        : config.warmup_epochs * batches;
  so.step_size_epochs = std::max<int64_t>(1, config.epochs / 3);
  const LrSchedule schedule(so);
  // Checked before the run directory exists, so that a wrong range leaves nothing behind.
  if (config.profile_first >= 0)
    KESTREL_CHECK(
        config.profile_first <= config.profile_last && config.profile_last < so.total_steps,
        "--profile-steps {}:{}: the run's steps are 0 to {}: {} epoch(s) of {} batches",
        config.profile_first, config.profile_last, so.total_steps - 1, config.epochs, batches);

  // Run directory; resume restores the weights, the optimizer and the position.
  const bool resuming = !config.resume.empty();
  const std::string name = config.name.empty()
                               ? run::RunDirectory::default_name(config.model, config.dataset)
                               : config.name;
  int64_t first_epoch = 0, step = 0;
  double best_top1 = -1.0, run_train_seconds = 0.0;
  int64_t best_epoch = 0;
  std::optional<checkpoint::LoadedCheckpoint> resumed;
  if (resuming) {
    const auto& loaded = resumed.emplace(checkpoint::load_checkpoint(config.resume));
    KESTREL_CHECK(loaded.has_kestrel_metadata,
                  "--resume {}: the file holds weights only, not a kestrel run to continue",
                  config.resume);
    check_resume_world_size(loaded, ranks);
    checkpoint::restore_parameters(loaded, named(graph->state_dict()), config.model);
    checkpoint::restore_optimizer(loaded, *optimizer, graph->parameters());
    first_epoch = loaded.state.epoch;
    step = loaded.state.step;
    if (auto it = loaded.state.extra.find("best_top1"); it != loaded.state.extra.end())
      best_top1 = std::stod(it->second);
    if (auto it = loaded.state.extra.find("best_epoch"); it != loaded.state.extra.end())
      best_epoch = std::stoll(it->second);
    if (auto it = loaded.state.extra.find("train_seconds"); it != loaded.state.extra.end())
      run_train_seconds = std::stod(it->second);
    KESTREL_CHECK(first_epoch < config.epochs,
                  "--resume {}: the run already completed {} of {} epochs (raise --epochs)",
                  config.resume, first_epoch, config.epochs);
    KESTREL_CHECK(config.target_top1 <= 0.0 || best_top1 < config.target_top1,
                  "--resume {}: the run stopped at its target, {:.2f}% test top-1 (reached at "
                  "epoch {}): pass --target-accuracy 0, or a higher one, to train on",
                  config.resume, 100.0 * config.target_top1, best_epoch);
  }
  // Every rank trains the same replica: rank 0's parameters and optimizer state, with dropout
  // masks of its own.
  broadcast_training_state(comm, *graph, *optimizer);
  // The average continues from the checkpoint's (every rank reads the same file), or starts
  // as a copy of the (broadcast) weights.
  if (ema) {
    if (resumed && checkpoint::has_ema(*resumed)) {
      Tensor saved = Tensor::zeros(graph->parameters().shape(), DType::F32, device);
      checkpoint::restore_ema(*resumed, named_like_parameters(*graph, saved));
      const auto it = resumed->state.extra.find(std::string(checkpoint::kEmaUpdatesKey));
      KESTREL_CHECK(it != resumed->state.extra.end(), "--resume {}: averaged weights without {}",
                    config.resume, checkpoint::kEmaUpdatesKey);
      ema->load(ctx, saved, std::stoll(it->second));
    } else {
      ema->start(ctx, graph->parameters());
    }
  }
  // The lookahead's slow weights likewise: the checkpoint's, or a copy of the weights.
  if (lookahead) {
    lookahead->start(ctx, *graph);
    if (resumed && checkpoint::has_tensors_under(*resumed, checkpoint::kLookaheadPrefix))
      checkpoint::restore_under(*resumed, checkpoint::kLookaheadPrefix,
                                named(lookahead->slow_tensors(*graph)));
  }
  resumed.reset();  // its host copy of every tensor is no longer needed
  graph->set_seed(dropout_seed_for_rank(config.seed, comm.rank()));
  GradientReducer reducer(
      comm, *graph,
      std::max<int64_t>(1, static_cast<int64_t>(config.dist_bucket_mb * 1024.0 * 1024.0)));

  std::optional<run::RunDirectory> run_dir;
  if (lead) run_dir.emplace(config.out_dir, name, resuming);
  const std::filesystem::path run_path = std::filesystem::path(config.out_dir) / name;
  nlohmann::json config_json = config.to_json();
  config_json["name"] = name;
  config_json["device_resolved"] = device.str();
  config_json["world_size"] = ranks;
  config_json["global_batch"] = config.batch * ranks;
  config_json["dist_backend"] = std::string(comm.backend());
  config_json["kestrel_version"] = version();
  config_json["kestrel_commit"] = commit();
  if (lead) run_dir->write_config(config_json);

  RunResult result;
  result.run_dir = run_path.string();
  result.class_names = train_set.class_names;
  result.best_top1 = best_top1 < 0 ? 0.0 : best_top1;
  result.best_epoch = best_epoch;
  result.epochs_done = first_epoch;
  result.run_train_seconds = run_train_seconds;
  result.target_top1 = config.target_top1;
  observer.on_start({run_path.string(), device, ranks, std::string(comm.backend()),
                     config.batch * ranks, graph->parameter_count(), train_set.size(),
                     test_set.size(), batches, first_epoch, config.bf16, config.target_top1});

  const auto save = [&](std::string_view file, int64_t epochs_done) {
    if (!lead) return;
    checkpoint::CheckpointState s;
    s.model = config.model;
    s.dataset = config.dataset;
    s.epoch = epochs_done;
    s.step = step;
    s.seed = config.seed;
    s.rng_position = static_cast<uint64_t>(step);
    s.config = config_json.dump();
    s.kestrel_version = version();
    s.kestrel_commit = commit();
    s.extra["best_top1"] = fmt::format("{:.17g}", result.best_top1);
    s.extra["best_epoch"] = std::to_string(result.best_epoch);
    s.extra["train_seconds"] = fmt::format("{:.17g}", result.run_train_seconds);
    s.extra[kWorldSizeKey] = std::to_string(ranks);
    checkpoint::NamedTensors buffers = named(graph->named_state());
    if (ema) {
      s.extra[std::string(checkpoint::kEmaUpdatesKey)] = std::to_string(ema->updates());
      const auto averaged = named_like_parameters(*graph, ema->averaged(), checkpoint::kEmaPrefix);
      buffers.insert(buffers.end(), averaged.begin(), averaged.end());
    }
    if (lookahead)
      for (const nn::NamedTensor& t : lookahead->slow_tensors(*graph))
        buffers.emplace_back(std::string(checkpoint::kLookaheadPrefix) + t.name, t.tensor);
    checkpoint::save_checkpoint(run_dir->file(file).string(), named(graph->named_parameters()),
                                optimizer.get(), s, buffers);
  };

  // Stops the run on a non-finite loss or parameters, before anything bad is saved: the newest
  // last.safetensors (this run's, or the one it resumed from) is the last good state.
  const auto diverged = [&](const std::string& what, int64_t epoch, double value, float lr) {
    const std::string good = epoch > first_epoch ? (run_path / run::kLastCheckpoint).string()
                             : resuming          ? config.resume
                                                 : std::string();
    result.status = RunStatus::Diverged;
    result.message =
        fmt::format("the {} became {} at epoch {}, step {} (learning rate {:.3g}); {}", what, value,
                    epoch + 1, step, lr,
                    good.empty() ? "no epoch had completed, so there is no checkpoint to go back to"
                                 : "the last good checkpoint is " + good);
    if (lead)
      run_dir->append_metrics({{"event", "diverged"},
                               {"what", what},
                               {"epoch", epoch + 1},
                               {"step", step},
                               {"value", std::isnan(value) ? "nan"
                                         : value > 0       ? "inf"
                                                           : "-inf"},
                               {"lr", lr}});
    result.total_seconds = seconds_since(run_start);
    return result;
  };

  Tensor dlogits = Tensor::empty(Shape{config.batch, train_set.classes}, DType::F32, device);
  StepOptions step_options{.label_smoothing = config.label_smoothing,
                           .clip_norm = config.clip_norm,
                           .reducer = &reducer,
                           .ema = ema ? &*ema : nullptr};
  // The steps' loss and hits stay on the device; the host reads them every sync_every steps
  // and at the end of each epoch, and only then learns of a non-finite loss (the ledger has
  // kept the weights from before it).
  StepLedger ledger(ctx);
  const int64_t sync_every = resolve_sync_every(config.sync_every, device);
  // Full-batch steps replayed as a CUDA Graph: one process on a GPU (the collectives of a
  // data-parallel step are not captured).
  StepGraph step_graph(config.graph != "off" && graph_possible ? make_step_capturer(ctx) : nullptr,
                       config.batch);
  const dist::FaultPlan fault = dist::read_fault_plan();
  ProfilerBracket profiler(ctx, config.profile_first, config.profile_last);
  for (int64_t epoch = first_epoch; epoch < config.epochs; ++epoch) {
    NvtxRange epoch_range("epoch");
    const auto epoch_start = Clock::now();
    // A group whose train_epochs have passed stops here (a resumed run's first epoch too).
    set_epoch_lr_scales(*optimizer, group_plan, epoch);
    train_loader.start_epoch(epoch);
    ledger.reset_counts();
    LedgerSnapshot tally;
    data::Batch batch;
    while (train_loader.next(batch)) {
      NvtxRange step_range("step");
      dist::inject_fault(fault, comm.rank(), step);
      profiler.before_step(step);
      const float lr = schedule.lr_at(step);
      optimizer->set_lr(lr);
      // The loss, hits and rows of the step are the global batch's (all ranks').
      step_options.global_rows = train_loader.global_batch_rows(batch.index);
      queue_step_inputs(ctx, *graph, *optimizer, step, ledger, step_options.ema);
      step_graph.run(batch.size, [&] {
        queue_step_body(ctx, *graph, *optimizer, batch.images, batch.labels, dlogits, ledger,
                        step_options);
      });
      profiler.after_step(step);
      ++step;
      if (lookahead) lookahead->after_step(ctx, *graph, step, so.total_steps, ledger.halt_flag());
      const bool epoch_done = batch.index + 1 == batches;
      if (!epoch_done && (batch.index + 1) % sync_every != 0) continue;
      tally = ledger.read();
      if (tally.halted) {
        step = tally.halted_step;
        return diverged("training loss", epoch, tally.halted_loss, schedule.lr_at(step));
      }
      const double elapsed = seconds_since(epoch_start);
      observer.on_step({epoch, config.epochs, batch.index + 1, batches, step, tally.mean_loss(),
                        tally.rows / std::max(elapsed, 1e-9), lr});
    }
    // The run's last epoch ends on the slow weights (airbench's final lookahead update).
    if (lookahead && epoch + 1 == config.epochs) lookahead->finish(ctx, *graph);
    const double seen = tally.rows;
    const double train_seconds = seconds_since(epoch_start);
    result.train_seconds += train_seconds;
    result.run_train_seconds += train_seconds;

    // The last step's update can overflow the weights while its own loss was still finite;
    // such a model evaluates to a NaN loss. Neither may become a checkpoint.
    const float last_lr = schedule.lr_at(step - 1);
    const double parameter_norm = ops::l2_norm(ctx, graph->parameters());
    check_replicas_agree(comm, parameter_norm, epoch);
    if (!std::isfinite(parameter_norm))
      return diverged("parameter norm", epoch, parameter_norm, last_lr);
    broadcast_model_state(comm, *graph);
    // With --ema the averaged weights are the ones evaluated (and chosen as best); the live
    // weights' accuracy is recorded beside them as eval_raw.
    const EvalResult raw_eval =
        evaluate(ctx, *graph, eval_loader, train_set.classes, &comm, config.tta);
    if (!std::isfinite(raw_eval.loss))
      return diverged("evaluation loss", epoch, raw_eval.loss, last_lr);
    EvalResult eval = raw_eval;
    if (ema) {
      ema->swap_with(ctx, graph->parameters());
      eval = evaluate(ctx, *graph, eval_loader, train_set.classes, &comm, config.tta);
      ema->swap_with(ctx, graph->parameters());
      if (!std::isfinite(eval.loss))
        return diverged("averaged weights' evaluation loss", epoch, eval.loss, last_lr);
    }
    result.epochs_done = epoch + 1;
    result.last_eval = eval;
    const bool best = eval.top1 > result.best_top1 || result.best_epoch == 0;
    if (best) {
      result.best_top1 = eval.top1;
      result.best_epoch = epoch + 1;
    }
    nlohmann::json record = {{"epoch", epoch + 1},
                             {"step", step},
                             {"lr", last_lr},
                             {"train",
                              {{"loss", tally.mean_loss()},
                               {"accuracy", tally.accuracy()},
                               {"samples", static_cast<int64_t>(seen)},
                               {"images_per_second", seen / train_seconds},
                               {"seconds", train_seconds}}},
                             {"eval", eval.to_json(train_set.class_names)},
                             {"best", best}};
    record["eval"]["seconds"] = eval.seconds;
    if (ema)
      record["eval_raw"] = {
          {"top1", raw_eval.top1}, {"loss", raw_eval.loss}, {"seconds", raw_eval.seconds}};
    const bool target_reached = config.target_top1 > 0.0 && eval.top1 >= config.target_top1;
    if (target_reached) {
      result.target_epoch = epoch + 1;
      result.seconds_to_target = result.run_train_seconds;
    }
    if (lead) {
      run_dir->append_metrics(record);
      if (target_reached)
        run_dir->append_metrics({{"event", "target_reached"},
                                 {"epoch", epoch + 1},
                                 {"step", step},
                                 {"target_top1", config.target_top1},
                                 {"top1", eval.top1},
                                 {"train_seconds", result.run_train_seconds}});
      run::write_file_atomically(run_dir->file(run::kMisclassifiedFile),
                                 eval.misclassified_json().dump() + "\n");
    }
    save(run::kLastCheckpoint, epoch + 1);
    if (best) save(run::kBestCheckpoint, epoch + 1);
    observer.on_epoch(record);
    if (target_reached) break;
  }
  if (ctx.is_cuda()) result.cuda_graph = step_graph.status();
  result.total_seconds = seconds_since(run_start);
  return result;
}

}  // namespace kestrel::train
