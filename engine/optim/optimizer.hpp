#pragma once
// Optimizer: updates the model's flat parameter buffer from its flat gradient buffer, one
// fused launch per step: the graph keeps every parameter in one buffer and every gradient in
// another, so one element-wise pass updates the whole model, however many tensors it has. State
// buffers (Adam's moments, SGD's momentum) are flat too, allocated on the first step with the
// parameters' size and zero-filled, and exposed by name for checkpoints.
#include <array>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "engine/runtime/context.hpp"
#include "engine/tensor/tensor.hpp"

namespace kestrel::optim {

// Named state tensors, with PyTorch's state_dict names (exp_avg, exp_avg_sq, momentum_buffer).
using NamedState = std::vector<std::pair<std::string, Tensor>>;

// torch.optim's param_groups over one flat buffer: `index` (u8, one entry per element of the
// flat parameters, on the step's device) puts each element in a group; group k's weight decay
// is the optimizer's times weight_decay_scale[k] and its learning rate the optimizer's (the
// schedule's) times lr_scale[k], each product in double, then rounded to f32, as torch takes a
// group's Python float: 1 keeps the optimizer's value, 0 is a group without decay, or one that
// does not move. The update stays one launch; the functor looks its element's group up in a
// small table (the rates among the step scalars, written each step). An undefined index is one
// group; an empty lr_scale is 1 for every group. With both, and weight_decay_scale {1}, the
// update is bit for bit what it was before groups existed.
struct ParamGroups {
  Tensor index;
  std::vector<double> weight_decay_scale;  // one per group: their count
  std::vector<double> lr_scale = {};       // empty, or one per group
};

class Optimizer {
 public:
  virtual ~Optimizer() = default;
  Optimizer(const Optimizer&) = delete;
  Optimizer& operator=(const Optimizer&) = delete;

  // One update of `params` from `grads`: f32 buffers of equal numel on the context's device.
  // prepare_step() then apply_step().
  void step(const Context& ctx, Tensor& params, const Tensor& grads);
  // The host's half of a step: checks, state buffers on the first step, the step count, and
  // the step's scalars (rate, bias corrections) stored to device memory by one small launch.
  virtual void prepare_step(const Context& ctx, const Tensor& params, const Tensor& grads) = 0;
  // The device's half: one launch over every element, reading the scalars prepare_step
  // stored. It takes no per-step argument, so a CUDA Graph can capture it once and replay it
  // after each prepare_step.
  virtual void apply_step(const Context& ctx, Tensor& params, const Tensor& grads) = 0;

  // Steps taken so far (PyTorch's state["step"]); the first step is number 1.
  int64_t step_count() const { return step_count_; }

  // The state buffers by name; empty before the first step. The tensors are views: writing
  // into them changes the optimizer's state.
  virtual NamedState state() const = 0;
  // Restores a checkpoint: the step count and copies of the named buffers (the names state()
  // gives, all of one numel). Throws kestrel::Error on unknown or missing names.
  virtual void load_state(int64_t step_count, const NamedState& state) = 0;

  // The learning rate for the following steps (schedulers call this between steps).
  void set_lr(float lr);
  float lr() const { return lr_; }

  // A flag in device memory (int32, ctx's device) that every later step reads on the device:
  // while it is non-zero the step changes neither the parameters nor the state buffers. The
  // trainer passes its step ledger's halt flag, so a step whose loss was NaN or infinite, and
  // every step after it, is skipped without the host waiting for the loss. The host's step
  // count still advances: a halted run ends without saving. Null (the default): never skip.
  void set_skip_flag(const int32_t* flag) { skip_flag_ = flag; }
  const int32_t* skip_flag() const { return skip_flag_; }

  // Sets the parameter groups for every later step (see ParamGroups). Throws kestrel::Error for
  // an index that is not u8, more than kernels::kMaxParamGroups groups, a negative or
  // non-finite scale, an lr_scale of another length than weight_decay_scale, or (for a host
  // index) an entry without a group.
  void set_param_groups(ParamGroups groups);
  const ParamGroups& param_groups() const { return groups_; }
  // The number of groups: 1 until set_param_groups.
  int param_group_count() const;
  // Group `group`'s learning-rate scale from the next prepare_step on (a step already prepared
  // keeps the rates it stored): as setting torch's group["lr"] between steps, relative to the
  // schedule. Throws kestrel::Error for a group that does not exist or a negative or
  // non-finite scale.
  void set_group_lr_scale(int group, double scale);

  // "sgd", "adam" or "adamw": the prefix of every error message.
  const std::string& name() const { return name_; }

 protected:
  Optimizer(std::string name, float lr);

  // The skip flag as a step's functor should see it. On the CPU the flag is host memory, so
  // the host reads it here: a set flag returns true (launch nothing) and the functor gets no
  // flag to test per element. On a GPU the functor gets the flag and tests it on the device.
  bool skipped_on_host(const Context& ctx, const int32_t*& functor_flag) const;

  // Stores a step's scalars (at most kernels::StoreStepScalars::kMax) in this optimizer's
  // device buffer, allocated on first use; returns the buffer.
  const float* store_step_scalars(const Context& ctx, std::span<const float> values);
  // The buffer store_step_scalars wrote; fails before the first prepare_step.
  const float* step_scalars() const;

  // Group k's weight decay as double (torch's group["weight_decay"]) for the optimizer's `wd`;
  // entries past the last group are 0.
  std::array<double, 4> group_weight_decays(float wd) const;
  // Group k's learning rate as double (torch's group["lr"]): lr() times its scale; entries past
  // the last group are 0.
  std::array<double, 4> group_learning_rates() const;
  // The functor's per-element group index (null without groups).
  const uint8_t* group_index() const;

  // Checks the step's tensors and, once state exists, that its size still matches.
  void check_step_args(const Context& ctx, const Tensor& params, const Tensor& grads,
                       int64_t state_numel) const;
  // Checks a checkpoint's state: a non-negative step count and exactly the buffers `names`,
  // each once, defined, f32 and all of one numel.
  void check_loaded_state(int64_t step_count, const NamedState& state,
                          const std::vector<std::string_view>& names) const;
  // The named buffer of a checked state, copied into fresh memory on its device.
  static Tensor copy_of(const NamedState& state, std::string_view name);

  int64_t step_count_ = 0;

 private:
  std::string name_;
  float lr_;
  const int32_t* skip_flag_ = nullptr;
  Tensor step_scalars_;  // f32 [StoreStepScalars::kMax] on the step's device
  ParamGroups groups_;
};

}  // namespace kestrel::optim
