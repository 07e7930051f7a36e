#include "apps/commands/train.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <filesystem>
#include <memory>
#include <sstream>
#include <string>
#include <tuple>
#include <vector>

#include "apps/commands/model_builder.hpp"
#include "apps/commands/report.hpp"
#include "apps/commands/self_test.hpp"
#include "apps/commands/step_range.hpp"
#include "apps/commands/train_output.hpp"
#include "apps/exit_code.hpp"
#include "engine/checkpoint/checkpoint.hpp"
#include "engine/data/augment.hpp"
#include "engine/data/loader.hpp"
#include "engine/data/registry.hpp"
#include "engine/dist/launch_env.hpp"
#include "engine/dist/make_communicator.hpp"
#include "engine/run/run_directory.hpp"
#include "engine/runtime/gpu_info.hpp"
#include "engine/train/evaluate.hpp"
#include "engine/train/multi_gpu.hpp"
#include "engine/train/param_group_rule.hpp"
#include "engine/train/tta.hpp"
#include "kernels/cpu/parallel.hpp"
#include "models/datasets.hpp"

namespace kestrel::apps {

namespace {

// Flags as given; unset ones take the model's recipe (train::default_config) or, when
// resuming, the configuration the run was saved with.
struct TrainFlags {
  std::string model, dataset, data_dir = "data", optimizer, schedule, device = "auto";
  std::string out = "runs", name, resume, gpus, profile_steps, graph = "auto", tta = "none";
  std::string crop_padding_mode, flip;
  double dist_timeout = 300.0, dist_bucket_mb = 25.0, target_accuracy = 0.0, ema = 0.0;
  double lookahead = 0.0;
  int64_t lookahead_every = 0;
  int64_t epochs = 0, batch = 0, warmup_epochs = 0, train_limit = 0, test_limit = 0, sync_every = 0;
  float lr = 0, momentum = 0, weight_decay = 0, label_smoothing = 0, clip_norm = 0;
  float muon_lr = 0, muon_momentum = 0;
  int crop_padding = 0, threads = 0, muon_ns_steps = 0;
  bool muon_normalize_weights = false;
  uint64_t seed = 0;
  bool hflip = false, no_augment = false, lab_normalization = false, drop_last = false;
  bool deterministic = false, tf32 = false, bf16 = false, no_nesterov = false;
  bool no_decay_norm_bias = false;
  std::vector<std::string> param_groups;  // --param-group, in order (the first match wins)
  bool no_self_test = false;
};

// Before the first step on a GPU: the quick part of the self-test against the CPU (a second
// or so), so that a broken driver, library or kernel stops the run with the op named instead
// of training on wrong numbers. Prints only failing ops and one summary line; CPU runs skip it.
// A run that asks for bf16 tests the bf16 path too; when only that path fails, the run goes on
// in f32 (bf16 set to false) with one warning: bf16 is a fast path, not the result.
void self_test_before_training(const std::vector<Device>& devices, bool& bf16) {
  selftest::SelfTestOptions options = self_test_options_from_environment();
  options.quick_only = true;
  options.with_bf16 = bf16;
  for (const Device& d : devices) {
    if (!d.is_cuda()) continue;
    const selftest::SelfTestReport report = run_device_self_test(d, options, false, stderr);
    const selftest::AfterSelfTest next = selftest::after_self_test(report);
    KESTREL_CHECK(next != selftest::AfterSelfTest::Stop,
                  "self-test: {} disagrees with the CPU on the ops above; run kestrel devices "
                  "--self-test for every op, or train --no-self-test to train anyway",
                  d.str());
    if (next == selftest::AfterSelfTest::TrainInF32 && bf16) {
      fmt::print(stderr,
                 "kestrel: warning: the bf16 path failed its self-test on {} (the lines above); "
                 "training in f32 instead (please report those lines)\n",
                 d.str());
      bf16 = false;
      options.with_bf16 = false;
    }
  }
}

// The configuration a resumed run continues with: the one its checkpoint was saved with (a
// weights-only file has none: then the recipe, and run_training refuses the file).
train::TrainConfig saved_config(const std::string& checkpoint_path, const std::string& model,
                                const std::string& dataset) {
  const auto loaded = checkpoint::load_checkpoint(checkpoint_path);
  if (loaded.state.config.empty()) return train::default_config(model, dataset);
  return train::TrainConfig::from_json(nlohmann::json::parse(loaded.state.config));
}

// --gpus 0,1,2,3: distinct GPU indices, each present on this machine.
std::vector<int> parse_gpus(const std::string& text) {
  std::vector<int> gpus;
  std::stringstream list(text);
  for (std::string item; std::getline(list, item, ',');) {
    int g = -1;
    const auto [end, error] = std::from_chars(item.data(), item.data() + item.size(), g);
    if (item.empty() || error != std::errc() || end != item.data() + item.size() || g < 0)
      throw CLI::ValidationError("--gpus",
                                 "'" + text + "' is not a list of GPU indices like 0,1,2,3");
    if (std::find(gpus.begin(), gpus.end(), g) != gpus.end())
      throw CLI::ValidationError("--gpus", "GPU " + item + " is listed twice in '" + text + "'");
    gpus.push_back(g);
  }
  if (gpus.empty()) throw CLI::ValidationError("--gpus", "no GPU listed");
  const int present = cuda_device_count();
  for (int g : gpus) {
    if (g < present) continue;
    const std::string reason = query_gpu_environment().no_gpu_reason;
    KESTREL_FAIL("--gpus {}: GPU {} is not present: this machine has {} usable CUDA GPU(s){}", text,
                 g, present, reason.empty() ? "" : " (" + reason + ")");
  }
  return gpus;
}

// Rank 0 of the job reports; a failure in any rank of a multi-rank job ends them all (the
// others would wait for it in their next collective until --dist-timeout).
train::RunResult train_as_rank(const train::TrainConfig& c, train::TrainObserver& progress,
                               dist::Communicator& comm) {
  try {
    return train::run_training(c, model_builder(), progress, comm);
  } catch (const Error& e) {
    if (comm.size() > 1) comm.abort(e.message().empty() ? e.what() : e.message());
    throw;
  } catch (const std::exception& e) {
    if (comm.size() > 1) comm.abort(e.what());
    throw;
  }
}

void run_train(const TrainFlags& f, CLI::App& cmd) {
  const auto given = [&](const char* flag) { return cmd.count(flag) > 0; };
  std::string resume, out = f.out, name = f.name;
  if (given("--resume")) {
    // --resume alone continues the run named by --name under --out.
    if (f.resume.empty() && f.name.empty())
      throw CLI::ValidationError("--resume without a path needs --name RUN (the run to continue)");
    resume = !f.resume.empty()
                 ? f.resume
                 : (std::filesystem::path(f.out) / f.name / run::kLastCheckpoint).string();
    if (name.empty()) name = std::filesystem::path(resume).parent_path().filename().string();
    if (!given("--out") && !f.resume.empty())
      out = std::filesystem::path(resume).parent_path().parent_path().string();
  }
  const std::string dataset =
      f.dataset.empty() ? std::string(models::default_dataset(f.model)) : f.dataset;
  // A resumed run keeps its settings (epochs, schedule, data, seed, ...): the flags given now
  // change only what they name, as they change the recipe of a new run.
  train::TrainConfig c = resume.empty() ? train::default_config(f.model, dataset)
                                        : saved_config(resume, f.model, dataset);
  c.model = f.model;
  if (given("--dataset") || resume.empty()) c.dataset = dataset;
  if (given("--data-dir") || resume.empty()) c.data_dir = f.data_dir;
  if (given("--device") || resume.empty()) c.device = f.device;
  c.out_dir = out;
  c.name = name;
  c.resume = resume;
  if (f.deterministic) c.deterministic = true;
  if (f.tf32) c.tf32 = true, c.bf16 = false;
  if (f.bf16) c.bf16 = true, c.tf32 = false;
  if (given("--epochs")) c.epochs = f.epochs;
  if (given("--batch")) c.batch = f.batch;
  if (given("--optimizer")) c.optimizer = f.optimizer;
  if (given("--lr")) c.lr = f.lr;
  if (given("--momentum")) c.momentum = f.momentum;
  if (f.no_nesterov) c.nesterov = false;
  if (given("--weight-decay")) c.weight_decay = f.weight_decay;
  if (given("--muon-lr")) c.muon_lr = f.muon_lr;
  if (given("--muon-momentum")) c.muon_momentum = f.muon_momentum;
  if (given("--muon-ns-steps")) c.muon_ns_steps = f.muon_ns_steps;
  if (f.muon_normalize_weights) c.muon_normalize_weights = true;
  if (f.no_decay_norm_bias) c.no_decay_norm_bias = true;
  // Given now, the rules replace a resumed run's; not given, it keeps its own.
  if (given("--param-group")) {
    c.param_groups.clear();
    for (const std::string& rule : f.param_groups)
      c.param_groups.push_back(train::parse_param_group_rule(rule));
  }
  if (given("--ema")) c.ema_decay = f.ema;
  if (given("--lookahead")) c.lookahead_decay = f.lookahead;
  if (given("--lookahead-every")) c.lookahead_every = f.lookahead_every;
  if (given("--schedule")) c.schedule = train::parse_schedule(f.schedule);
  if (given("--warmup-epochs")) {
    c.warmup_epochs = f.warmup_epochs;
  } else if (resume.empty()) {
    // The recipe's warm-up (resnet: 2 epochs) shrinks to fit a shorter run than it was set for
    // (a resumed run keeps its own).
    c.warmup_epochs = std::min(c.warmup_epochs, c.epochs - 1);
  }
  if (given("--label-smoothing")) c.label_smoothing = f.label_smoothing;
  if (given("--clip-norm")) c.clip_norm = f.clip_norm;
  if (given("--crop-padding")) c.crop_padding = f.crop_padding;
  if (given("--crop-padding-mode"))
    c.crop_padding_mode = data::parse_padding_mode(f.crop_padding_mode);
  if (given("--hflip")) c.hflip = f.hflip, c.alternate_flip = false;
  if (given("--flip")) c.hflip = f.flip != "none", c.alternate_flip = f.flip == "alternate";
  if (f.no_augment) c.crop_padding = 0, c.hflip = false, c.alternate_flip = false;
  if (f.lab_normalization) c.lab_normalization = true;
  if (f.drop_last) c.drop_last = true;
  if (given("--train-limit")) c.train_limit = f.train_limit;
  if (given("--test-limit")) c.test_limit = f.test_limit;
  if (given("--tta")) c.tta = train::parse_tta(f.tta);
  if (given("--seed")) c.seed = f.seed;
  if (given("--dist-bucket-mb")) c.dist_bucket_mb = f.dist_bucket_mb;
  if (given("--target-accuracy")) c.target_top1 = f.target_accuracy / 100.0;
  c.sync_every = f.sync_every;
  c.graph = f.graph;
  if (f.threads > 0) cpu::set_num_threads(f.threads);
  if (given("--profile-steps")) {
    std::tie(c.profile_first, c.profile_last) = parse_step_range(f.profile_steps);
    if (!given("--gpus") && !train::resolve_device(c.device).is_cuda())
      fmt::print(stderr, "{}", kProfileStepsOnCpuNote);
  }

  // Data parallel: the launcher (mpirun, srun, ...) says which rank this process is; --gpus
  // makes this one process the ranks, a thread per GPU.
  const dist::LaunchEnvironment env = dist::read_launch_environment();
  const dist::DistOptions dist_options{.timeout_seconds = f.dist_timeout};
  train::RunResult result;
  bool lead = true;
  TrainProgress progress(::isatty(STDERR_FILENO) == 1);
  if (given("--gpus")) {
    if (env.size > 1)
      throw CLI::ValidationError(
          "--gpus", fmt::format("one process drives the listed GPUs; it cannot be one of the {} "
                                "ranks that {} started",
                                env.size, env.launcher));
    if (given("--device"))
      throw CLI::ValidationError("--gpus", "--gpus chooses the devices: drop --device");
    const std::vector<int> gpus = parse_gpus(f.gpus);
    if (!f.no_self_test) {
      std::vector<Device> devices;
      for (int g : gpus) devices.push_back(Device::cuda(g));
      self_test_before_training(devices, c.bf16);
    }
    auto comms = dist::make_gpu_communicators(gpus, dist_options);
    result = train::run_training_on_gpus(c, gpus, comms, model_builder(), progress);
  } else {
    const Device device = train::resolve_device(c.device, env.local_rank);
    if (!f.no_self_test) self_test_before_training({device}, c.bf16);
    const auto comm = dist::make_communicator(env, device, dist_options);
    lead = comm->rank() == 0;
    result = train_as_rank(c, progress, *comm);
  }
  if (result.status == train::RunStatus::Diverged) exit_code() = kExitDiverged;
  if (!lead) return;
  progress.finish();
  print_run_result(result);
  write_run_report(result.run_dir, c.data_dir);
}

struct EvalFlags {
  std::string checkpoint, model, dataset, data_dir = "data", device = "auto", tta;
  int64_t batch = 256;
  bool raw = false;
};

void run_eval(const EvalFlags& f) {
  const auto loaded = checkpoint::load_checkpoint(f.checkpoint);
  // A weights-only file (e.g. written by PyTorch) names neither its model nor its data set.
  const std::string model = f.model.empty() ? loaded.state.model : f.model;
  KESTREL_CHECK(!model.empty() && (!loaded.state.dataset.empty() || !f.dataset.empty()),
                "{} holds weights only: pass --model and --dataset", f.checkpoint);
  const std::string dataset = f.dataset.empty() ? loaded.state.dataset : f.dataset;
  Context ctx(train::resolve_device(f.device));
  ctx.set_math(MathOptions::application_default());
  const data::ImageDataset test = data::load_dataset(dataset, "test", f.data_dir);
  auto graph =
      model_builder()(model, Shape{test.channels(), test.height(), test.width()}, test.classes);
  graph->build(ctx, f.batch);
  checkpoint::NamedTensors params;
  for (const auto& p : graph->state_dict()) params.emplace_back(p.name, p.tensor);
  checkpoint::restore_parameters(loaded, params, model);
  // A run trained with --ema is judged by its averaged weights, unless --raw asks otherwise.
  const bool averaged = checkpoint::has_ema(loaded) && !f.raw;
  if (averaged) {
    checkpoint::NamedTensors trainable;
    for (const auto& p : graph->named_parameters()) trainable.emplace_back(p.name, p.tensor);
    checkpoint::restore_ema(loaded, trainable);
  }
  // The run's normalisation (the lab's when the run used it, else the data set's statistics)
  // and its test-time augmentation, unless --tta chooses another.
  bool lab = false;
  std::string tta = "none";
  if (!loaded.state.config.empty()) {
    const auto config = nlohmann::json::parse(loaded.state.config);
    lab = config.value("lab_normalization", false);
    tta = config.value("tta", tta);
    // A --deterministic run's convolutions were im2col + GEMM: evaluate them the same way.
    if (config.value("deterministic", false)) {
      MathOptions math = ctx.math();
      math.cpu_onednn = false;
      ctx.set_math(math);
    }
  }
  if (!f.tta.empty()) tta = f.tta;
  const auto stats = lab ? data::lab_normalization(static_cast<int>(test.channels()))
                         : data::dataset_normalization(dataset);
  data::BatchLoader loader(test, ctx, data::LoaderOptions::for_evaluation(f.batch, stats));
  const train::Tta views = train::parse_tta(tta);
  const train::EvalResult eval =
      train::evaluate(ctx, *graph, loader, test.classes, /*comm=*/nullptr, views);
  fmt::print("{} ({}, epoch {}) on {} test{}{}: top-1 {:.2f}%", f.checkpoint, model,
             loaded.state.epoch, dataset, averaged ? " with the averaged weights" : "",
             views == train::Tta::None ? "" : fmt::format(", test-time augmentation {}", tta),
             100.0 * eval.top1);
  if (eval.top5 >= 0.0) fmt::print(", top-5 {:.2f}%", 100.0 * eval.top5);
  fmt::print(", macro-F1 {:.4f}, loss {:.4f} ({} images, {:.1f} s on {})\n",
             eval.confusion.macro_f1(), eval.loss, eval.samples, eval.seconds, ctx.device().str());
  print_evaluation(eval, test.class_names);
}

// CLI11's Range and PositiveNumber report "abc" or 0 as out of a range that reaches 1.8e308:
// these validators say what is wrong instead. decay(): [0, 1) (--ema, --lookahead; 0 is off).
CLI::Validator decay() {
  return CLI::Validator(
      [](std::string& text) {
        double value = 0;
        return CLI::detail::lexical_cast(text, value) && value >= 0.0 && value < 1.0
                   ? std::string()
                   : "'" + text + "' is not a decay in [0, 1)";
      },
      "");
}

CLI::Validator integer() {
  return CLI::Validator(
      [](std::string& text) {
        int64_t value = 0;
        return CLI::detail::lexical_cast(text, value) ? std::string()
                                                      : "'" + text + "' is not a whole number";
      },
      "");
}
CLI::Validator number() {
  return CLI::Validator(
      [](std::string& text) {
        double value = 0;
        return CLI::detail::lexical_cast(text, value) ? std::string()
                                                      : "'" + text + "' is not a number";
      },
      "");
}
CLI::Validator positive() {
  return CLI::Validator(
      [](std::string& text) {
        double value = 0;
        return CLI::detail::lexical_cast(text, value) && value > 0.0
                   ? std::string()
                   : "'" + text + "' is not a positive number";
      },
      "");
}
CLI::Validator percentage() {
  return CLI::Validator(
      [](std::string& text) {
        double value = 0;
        return CLI::detail::lexical_cast(text, value) && value >= 0.0 && value <= 100.0
                   ? std::string()
                   : "'" + text + "' is not a percentage in [0, 100]";
      },
      "");
}
CLI::Validator param_group_rule() {
  return CLI::Validator(
      [](std::string& text) {
        try {
          train::parse_param_group_rule(text);
          return std::string();
        } catch (const Error& e) {
          return e.message();
        }
      },
      "");
}
CLI::Validator non_negative() {
  return CLI::Validator(
      [](std::string& text) {
        double value = 0;
        return CLI::detail::lexical_cast(text, value) && value >= 0.0
                   ? std::string()
                   : "'" + text + "' is not a number >= 0";
      },
      "");
}

}  // namespace

void register_train_command(CLI::App& app) {
  auto f = std::make_shared<TrainFlags>();
  auto* cmd = app.add_subcommand("train", "Train a model (default recipe per model and data set)");
  cmd->add_option("model", f->model,
                  fmt::format("{}", fmt::join(models::model_names(), " | ")))
      ->required()
      ->check(CLI::IsMember(models::model_names()));
  cmd->add_option("--dataset", f->dataset, "mnist | fashion-mnist | cifar10 (default: the model's)")
      ->check(CLI::IsMember(data::dataset_names()));
  cmd->add_option("--data-dir", f->data_dir, "Where scripts/fetch-data.sh put the data (data)");
  cmd->add_option("--epochs", f->epochs, "Epochs")
      ->check(integer())
      ->check(CLI::Range(int64_t{1}, int64_t{100000}));
  cmd->add_option("--batch", f->batch, "Batch size")
      ->check(integer())
      ->check(CLI::Range(int64_t{1}, int64_t{65536}));
  cmd->add_option("--optimizer", f->optimizer,
                  "adam | adamw | sgd | muon (Muon for the weight matrices, SGD for the rest)")
      ->check(CLI::IsMember({"adam", "adamw", "sgd", "muon"}));
  cmd->add_option("--lr", f->lr, "Peak learning rate")->check(positive());
  cmd->add_option("--momentum", f->momentum, "SGD momentum")
      ->check(number())
      ->check(CLI::Range(0.0f, 0.999f));
  cmd->add_flag("--no-nesterov", f->no_nesterov, "SGD: classical momentum, not Nesterov");
  cmd->add_option("--muon-lr", f->muon_lr,
                  "muon: the weight matrices' rate where the schedule is at --lr (0.02)")
      ->check(positive());
  cmd->add_option("--muon-momentum", f->muon_momentum, "muon: the matrices' momentum (0.95)")
      ->check(number())
      ->check(CLI::Range(0.0f, 0.999f));
  cmd->add_option("--muon-ns-steps", f->muon_ns_steps, "muon: Newton-Schulz iterations (5)")
      ->check(integer())
      ->check(CLI::Range(1, 20));
  cmd->add_flag("--muon-normalize-weights", f->muon_normalize_weights,
                "muon: rescale each matrix to Frobenius norm sqrt(rows) before its step "
                "(airbench94_muon's)");
  cmd->add_option("--weight-decay", f->weight_decay, "Weight decay")
      ->check(number())
      ->check(CLI::Range(0.0f, 1.0f));
  cmd->add_flag("--no-decay-norm-bias", f->no_decay_norm_bias,
                "No weight decay for biases and normalisation weights (every parameter with at "
                "most one dimension, as timm does)");
  cmd->add_option("--param-group", f->param_groups,
                  "PATTERN[:lr=X,wd=Y,epochs=N], repeatable: the trainable parameters whose "
                  "state_dict name PATTERN matches (fnmatch: conv1.*, *.bias; the first rule "
                  "that matches wins) train at X times the rate, with Y times the weight decay "
                  "(each 1 if not given), for the first N epochs only (0 or not given: all)")
      ->check(param_group_rule())
      ->allow_extra_args(false);
  cmd->add_option("--ema", f->ema,
                  "Keep a moving average of the weights with this decay (e.g. 0.999), warm-up "
                  "min(decay, (1+n)/(10+n)); evaluate and save it (0: off)")
      ->check(number())
      ->check(decay());
  cmd->add_option("--lookahead", f->lookahead,
                  "Lookahead averaging of the weights (airbench94's): every --lookahead-every "
                  "steps the slow copy moves toward the weights by 1 - DECAY^k (n/N)^3 and the "
                  "weights restart from it; the run ends on it (e.g. 0.95; 0: off)")
      ->check(number())
      ->check(decay());
  cmd->add_option("--lookahead-every", f->lookahead_every, "Steps between lookahead pulls (5)")
      ->check(integer())
      ->check(CLI::Range(int64_t{1}, int64_t{1000000}));
  cmd->add_option("--schedule", f->schedule,
                  "constant | step | cosine | one-cycle | triangular (airbench94's: linear from "
                  "0.2x to the peak at 23% of the steps, then to 0.07x) | linear (to 0)")
      ->check(CLI::IsMember({"constant", "step", "cosine", "one-cycle", "triangular", "linear"}));
  cmd->add_option("--warmup-epochs", f->warmup_epochs, "Linear warm-up (constant/step/cosine)")
      ->check(integer())
      ->check(non_negative());
  cmd->add_option("--label-smoothing", f->label_smoothing, "Label smoothing in [0, 1)")
      ->check(number())
      ->check(CLI::Range(0.0f, 0.999f));
  cmd->add_option("--clip-norm", f->clip_norm, "Clip the gradient's global norm (0: off)")
      ->check(non_negative());
  cmd->add_option("--crop-padding", f->crop_padding, "Random-crop padding (0: off)")
      ->check(integer())
      ->check(CLI::Range(0, 16));
  cmd->add_option("--crop-padding-mode", f->crop_padding_mode,
                  "zero | reflect: what the random crop's padding holds (zero: torchvision's "
                  "default fill; reflect: the image mirrored about its edge, airbench's)")
      ->check(CLI::IsMember({"zero", "reflect"}));
  cmd->add_flag("--hflip,!--no-hflip", f->hflip,
                "Random horizontal flips (--flip random) or none (--flip none)");
  cmd->add_option("--flip", f->flip,
                  "none | random | alternate: horizontal flips; random: a coin per image and "
                  "epoch; alternate: a coin per image, flipped on epoch e iff coin XOR e odd "
                  "(airbench's; each image is seen both ways every two epochs)")
      ->check(CLI::IsMember({"none", "random", "alternate"}))
      ->excludes("--hflip");
  cmd->add_flag("--no-augment", f->no_augment, "No crops or flips");
  cmd->add_flag("--lab-normalization", f->lab_normalization, "Normalise with (0.5, 0.5)");
  cmd->add_flag("--drop-last", f->drop_last, "Drop the last partial batch of each epoch");
  cmd->add_option("--train-limit", f->train_limit, "Train on the first N images only")
      ->check(integer())
      ->check(non_negative());
  cmd->add_option("--test-limit", f->test_limit,
                  "Evaluate on the first N test images only (a quick run's metrics; kestrel eval "
                  "still scores the whole test split)")
      ->check(integer())
      ->check(non_negative());
  cmd->add_option("--tta", f->tta,
                  "Test-time augmentation at each evaluation: none | flip | flip-translate "
                  "(logits averaged over 1, 2 or 6 views)")
      ->check(CLI::IsMember({"none", "flip", "flip-translate"}));
  cmd->add_option("--target-accuracy", f->target_accuracy,
                  "Stop once the test top-1 reaches PCT percent after an epoch, and print the "
                  "training time it took (0: off)")
      ->check(percentage());
  cmd->add_option("--seed", f->seed, "Seed of every random choice (0)")
      ->check(integer())
      ->check(non_negative());
  cmd->add_option("--device", f->device, "auto | cpu | cuda | cuda:N (auto)");
  cmd->add_flag("--deterministic", f->deterministic,
                "Deterministic algorithms only: cuDNN's deterministic ones on a GPU; on the CPU "
                "im2col + GEMM convolutions, the same bits for any thread count, instead of "
                "oneDNN's (faster; the same bits run to run at one thread count)");
  cmd->add_flag("--tf32", f->tf32, "Allow TF32 tensor cores on the GPU");
  cmd->add_flag("--no-self-test", f->no_self_test,
                "On a GPU: skip the quick self-test against the CPU before the first step");
  cmd->add_flag("--bf16", f->bf16,
                "bf16 operands for convolutions and matrix products, f32 master weights and "
                "accumulation (GPU tensor cores; emulated on the CPU, for accuracy studies)")
      ->excludes("--tf32");
  cmd->add_option("--gpus", f->gpus, "Data parallel in one process over these GPUs (0,1,2,3)");
  cmd->add_option("--dist-timeout", f->dist_timeout,
                  "Data parallel: seconds a collective may wait for the other ranks before the "
                  "job is aborted (300)")
      ->check(positive());
  cmd->add_option("--dist-bucket-mb", f->dist_bucket_mb,
                  "Data parallel: gradient all-reduce bucket size in MiB (25)")
      ->check(positive());
  cmd->add_option("--profile-steps", f->profile_steps,
                  "Bracket optimizer steps A:B (0-based) with cudaProfilerStart/Stop for "
                  "nsys --capture-range=cudaProfilerApi");
  cmd->add_option("--graph", f->graph,
                  "auto | on | off: replay full-batch steps as a CUDA Graph (auto: on a GPU with "
                  "one process)")
      ->check(CLI::IsMember({"auto", "on", "off"}));
  cmd->add_option("--sync-every", f->sync_every,
                  "Read the loss back from the device every N steps (0: every step on the CPU, "
                  "every 50 on a GPU)")
      ->check(integer())
      ->check(non_negative());
  cmd->add_option("--threads", f->threads, "CPU threads (default: all cores)")
      ->check(integer())
      ->check(CLI::Range(1, 1024));
  cmd->add_option("--out", f->out, "Parent of the run directory (runs)");
  cmd->add_option("--name", f->name, "Run directory name (default <model>-<dataset>-<time>)");
  cmd->add_option("--resume", f->resume,
                  "Continue from a checkpoint (default with --name: RUN/last.safetensors)")
      ->expected(0, 1);
  cmd->callback([f, cmd] { run_train(*f, *cmd); });
}

void register_eval_command(CLI::App& app) {
  auto f = std::make_shared<EvalFlags>();
  auto* cmd = app.add_subcommand("eval", "Evaluate a checkpoint on its data set's test split");
  cmd->add_option("checkpoint", f->checkpoint, "A .safetensors checkpoint")->required();
  cmd->add_option("--model", f->model, "Model (default: the checkpoint's)")
      ->check(CLI::IsMember(models::model_names()));
  cmd->add_option("--dataset", f->dataset, "Data set (default: the checkpoint's)")
      ->check(CLI::IsMember(data::dataset_names()));
  cmd->add_option("--data-dir", f->data_dir, "Where the data sets are (data)");
  cmd->add_option("--batch", f->batch, "Batch size (256)")
      ->check(integer())
      ->check(CLI::Range(int64_t{1}, int64_t{65536}));
  cmd->add_option("--device", f->device, "auto | cpu | cuda | cuda:N (auto)");
  cmd->add_flag("--raw", f->raw,
                "Evaluate the trained weights, not their moving average (a run with --ema)");
  cmd->add_option("--tta", f->tta,
                  "Test-time augmentation: none | flip | flip-translate (default: the run's)")
      ->check(CLI::IsMember({"none", "flip", "flip-translate"}));
  cmd->callback([f] { run_eval(*f); });
}

}  // namespace kestrel::apps
