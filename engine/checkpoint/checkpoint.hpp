#pragma once
// Training checkpoints: one safetensors file holding the model's parameters under their PyTorch
// names and layouts, the optimizer's state, and the run's position in __metadata__.
//
//   safetensors.torch.load_file(path) + model.load_state_dict(sd, strict=False)
//
// loads the weights into the same PyTorch model (strict=False skips the optimizer tensors), and
// a file of weights that PyTorch wrote (safetensors.torch.save_file(model.state_dict(), path))
// restores into a kestrel model.
//
// Tensors:
//   <parameter name>         each parameter as given (conv1.weight [out, in, kh, kw], ...)
//   <buffer name>            each buffer (non-trainable state: bn1.running_mean f32,
//                            bn1.num_batches_tracked i64, frozen parameters), as PyTorch's
//                            state_dict holds them
//   ema.<parameter name>     the moving average of each trainable parameter (`train --ema`),
//                            same shape and dtype; a PyTorch state_dict of the averaged model
//                            is these with "ema." stripped plus the buffers above
//   lookahead.<name>         the slow weights of `train --lookahead`: each trainable parameter
//                            and each f32 buffer (running statistics), same shape and dtype
//   optimizer.<state name>   each optimizer buffer, FLAT over all parameters: optimizer.exp_avg
//                            and optimizer.exp_avg_sq (Adam/AdamW), optimizer.momentum_buffer
//                            (SGD with momentum); f32 [F], F = the size of the model's flat
//                            parameter buffer: each parameter starts at a multiple of 64
//                            elements (engine/nn/graph.hpp), so F also counts the zero
//                            padding after each one (F >= the parameter count).
//
// The optimizer state stays flat because that is what it is in kestrel (one buffer beside the
// flat parameter buffer, one fused update): it is written and restored with one copy each, and
// nothing has to assume how parameters map onto it beyond what __metadata__ records. The map
// for other tools is "optimizer.param_offsets": {"conv1.weight": [begin, end], ...}, element
// ranges into the flat buffers, so in PyTorch
//   exp_avg[begin:end].view_as(param)
// is that parameter's torch.optim state["exp_avg"].
//
// __metadata__ (all values are strings, as the format requires):
//   format                  "pt" (PyTorch layouts; what safetensors.torch.save_model writes)
//   kestrel.format_version  "1"; present in every kestrel checkpoint and only there
//   kestrel.version         kestrel's version, when the caller gives it
//   kestrel.commit          the source commit, when the caller gives it
//   model, dataset          "lenet5", "mnist"
//   epoch, step             decimal integers
//   seed, rng_position      decimal unsigned integers
//   config                  the run's configuration, a JSON document (omitted when empty)
//   optimizer               "sgd", "adam", "adamw"           } only when saved with
//   optimizer.steps         the optimizer's step count        } an optimizer
//   optimizer.hparams       JSON with torch.optim's param_group keys: {"lr", "betas", "eps",
//                           "weight_decay", "amsgrad"} or {"lr", "momentum", "dampening",
//                           "weight_decay", "nesterov"}
//   optimizer.param_offsets JSON, see above (only when the optimizer has state)
//   ema.updates             the average's update count (with ema.* tensors; in `extra`)
//   any other key           CheckpointState::extra, stored as given
//
// A file without kestrel.format_version (weights written by PyTorch or another tool) loads as
// weights only: its metadata all lands in `extra`, and restore_parameters skips the model-name
// check (the names, shapes and dtypes are still checked one by one).
#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "engine/checkpoint/safetensors.hpp"
#include "engine/optim/optimizer.hpp"

namespace kestrel::checkpoint {

// Parameters (or any tensors) by name, in the model's order.
using NamedTensors = std::vector<std::pair<std::string, Tensor>>;

// The version of the layout described above; files of a later version are refused.
inline constexpr int64_t kCheckpointFormatVersion = 1;
// Tensor-name prefix of the optimizer's buffers; parameter names may not start with it.
inline constexpr std::string_view kOptimizerPrefix = "optimizer.";
// Tensor-name prefix of the averaged weights (train::WeightEma), and their update count's key.
inline constexpr std::string_view kEmaPrefix = "ema.";
inline constexpr std::string_view kEmaUpdatesKey = "ema.updates";
// Tensor-name prefix of the lookahead's slow weights (train::Lookahead).
inline constexpr std::string_view kLookaheadPrefix = "lookahead.";

struct CheckpointState {
  std::string model;    // "lenet5": restore_parameters refuses a checkpoint of another model
  std::string dataset;  // "mnist"
  int64_t epoch = 0;    // epochs completed
  int64_t step = 0;     // training steps taken
  // The optimizer's name, step count and hyperparameters (JSON). save_checkpoint takes them
  // from its optimizer argument (and leaves them out without one); load_checkpoint fills them.
  std::string optimizer;
  int64_t optimizer_steps = 0;
  std::string optimizer_hparams;
  uint64_t seed = 0;          // the run's RNG seed
  uint64_t rng_position = 0;  // where the run's random streams continue (the trainer's counter)
  std::string config;         // the run's configuration as a JSON document, or ""
  std::string kestrel_version;
  std::string kestrel_commit;
  // Further metadata, stored under its own keys; they may not be one of the keys above nor
  // start with "kestrel." or "optimizer.".
  std::map<std::string, std::string> extra;
};

struct LoadedCheckpoint {
  std::string path;
  bool has_kestrel_metadata = false;  // false: weights only (e.g. written by PyTorch)
  CheckpointState state;
  SafetensorsFile file;  // every tensor, on the host
};

// Writes `params` and `buffers` (under their names), the state of `optimizer` (may be null:
// weights only) and `state` to `path`, atomically (see write_safetensors). With optimizer
// state, the parameters must be views that tile the optimizer's flat buffer (the model's flat
// parameter buffer), so that optimizer.param_offsets can be recorded; buffers are any tensors
// beside them. Throws kestrel::Error for duplicate, empty or reserved names, reserved `extra`
// keys, `config` that is not JSON, and I/O failures.
void save_checkpoint(const std::string& path, const NamedTensors& params,
                     const optim::Optimizer* optimizer, const CheckpointState& state,
                     const NamedTensors& buffers = {});

// Reads and validates `path` (read_safetensors' checks) and its kestrel metadata: a kestrel
// checkpoint must have every key above with well-formed values and a format version this
// kestrel reads. Throws kestrel::Error naming the file and the problem.
LoadedCheckpoint load_checkpoint(const std::string& path);

// Copies the checkpoint's tensors into `params` (the model's parameters and buffers: live views
// on any device). Checks first, copies only if everything matches: the checkpoint's model is
// `expected_model` (skipped when the file does not name one or `expected_model` is empty),
// every tensor is present with its shape and dtype, and the file holds no tensor the model
// lacks (tensors under "optimizer." aside); one error line names every missing and every
// unexpected tensor. Tensors under "ema." and "lookahead." are left out too (restore_ema and
// restore_under read them).
void restore_parameters(const LoadedCheckpoint& checkpoint, const NamedTensors& params,
                        std::string_view expected_model);

// Whether the checkpoint holds averaged weights (ema.* tensors).
bool has_ema(const LoadedCheckpoint& checkpoint);
// Copies each ema.<name> tensor into the parameter `name` of `params` (live views, any
// device), after checking that every one is there with its shape and dtype.
void restore_ema(const LoadedCheckpoint& checkpoint, const NamedTensors& params);
// The same for any prefix: whether tensors under `prefix` exist, and copying each
// <prefix><name> into the tensor `name` of `targets` after checking all of them.
bool has_tensors_under(const LoadedCheckpoint& checkpoint, std::string_view prefix);
void restore_under(const LoadedCheckpoint& checkpoint, std::string_view prefix,
                   const NamedTensors& targets);

// Restores `optimizer` from the checkpoint: its step count, its state buffers (copied to the
// device of `flat_params`, the model's flat parameter buffer they must match in size) and its
// learning rate, as torch's Optimizer.load_state_dict restores the param groups' lr. Refuses a
// checkpoint without optimizer state, of another optimizer, or whose other hyperparameters
// (betas, eps, weight_decay, momentum, ...) differ from `optimizer`'s.
void restore_optimizer(const LoadedCheckpoint& checkpoint, optim::Optimizer& optimizer,
                       const Tensor& flat_params);

// The optimizer's hyperparameters as saved in optimizer.hparams (torch.optim's names).
std::string optimizer_hparams_json(const optim::Optimizer& optimizer);

}  // namespace kestrel::checkpoint
