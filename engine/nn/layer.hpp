#pragma once
// Layer: one node of a static graph, split as in Caffe into shape setup (once, before any
// memory exists), forward and backward. A layer never allocates: the graph gives it views of
// its parameters and gradients (into one flat buffer each), of its non-trainable state
// (batch norm's running statistics), of what it saves from forward for backward (max-pool
// argmax, LRN scale) and of its input and output activations, all planned once for the
// largest batch. A smaller batch arrives as the leading rows of those views.
//
// A node reads one or more values of the graph (`Layer`: spans of inputs); most layers read
// one and derive from `UnaryLayer`, which keeps the one-input signatures.
//
// Names are PyTorch module paths ("conv1", "features.0", "classifier.6"), so parameter names
// are `<layer>.<param>` exactly as in a PyTorch state_dict.
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "engine/core/shape.hpp"
#include "engine/runtime/context.hpp"
#include "engine/tensor/tensor.hpp"

namespace kestrel::nn {

struct LayerSummary;

// How Graph::initialize fills a parameter: weights by the chosen scheme from their fans,
// biases together with the weight of their layer (engine/init: init::initialize).
enum class ParamKind { Weight, Bias };

// Where a parameter starts: drawn by the graph's initialisation scheme (ParamKind above), or a
// fixed start whatever the scheme: a constant (torch.nn.BatchNorm2d's reset_parameters: weight
// 1, bias 0), N(0, scale^2) (torchvision's ViT pos_embedding: normal_(std=0.02)), U(-scale,
// scale) (torchvision's EfficientNet classifier: 1 / sqrt(out_features)), a draw torch's module
// always makes (torch.nn.MultiheadAttention: in_proj_weight xavier_uniform_, out_proj.weight
// nn.Linear's kaiming_uniform_(a=sqrt(5))), or kaiming_normal_(nonlinearity="relu") by fan_out
// (torchvision's ResNet, MobileNetV2, EfficientNet convolutions) or by fan_in (DenseNet's).
// torch's trunc_normal_(std, a=-2, b=2) as torchvision uses it (GoogLeNet std 0.01, ViT's
// conv_proj std sqrt(1 / fan_in) <= 0.15) cuts at 13 standard deviations or more, where a
// normal draw lands with probability below 1e-38: Normal is that start.
enum class ParamInit {
  Scheme,
  Zeros,
  Ones,
  Normal,
  Uniform,
  XavierUniform,
  LinearDefault,
  KaimingNormalFanOut,
  KaimingNormalFanIn,
  // The scheme's draw, then torch.nn.init.dirac_ on the first min(out, in) filters
  // (init::partial_dirac; airbench's convolutions): counts as the layer's scheme weight.
  PartialDirac,
  // Patch whitening (init::patch_whitening): filled from the training images by the trainer
  // after Graph::initialize (which leaves it 0), for a convolution that reads the graph input.
  PatchWhitening
};

// A layer's record of how one of its parameters starts.
struct ParamStart {
  ParamInit how = ParamInit::Scheme;
  float scale = 0.0f;
};

struct ParamSpec {
  std::string name;  // local name: "weight", "bias", "out_proj.weight"
  Shape shape;       // PyTorch's layout ([out, in, kh, kw], [out, in], [out])
  ParamKind kind;
  ParamInit init = ParamInit::Scheme;
  float scale = 0.0f;  // ParamInit::Normal's standard deviation, ParamInit::Uniform's bound
};

// A parameter's or buffer's full name: `<scope>.<local>`, or `<local>` alone when the scope is
// empty (a parameter of the model itself, as torchvision's ViT class_token).
std::string qualified_name(std::string_view scope, std::string_view local);

// Non-trainable state that belongs to the model (PyTorch's buffers: batch norm's running_mean,
// running_var, num_batches_tracked): saved in checkpoints under `<layer>.<name>`, never touched
// by the optimizer or by gradient all-reduce.
struct StateSpec {
  std::string name;  // local name: "running_mean"
  Shape shape;
  DType dtype;  // f32 or i64 (PyTorch's dtypes: num_batches_tracked is int64)
};

// What a layer saves in forward for its backward pass: one row per sample (batch dimension
// first: max-pool argmax, LRN scale), or a shape of its own that the batch does not change
// (batch norm's per-channel mean and inverse deviation). The graph binds it as declared; the
// layer takes the rows a smaller batch needs.
struct SavedSpec {
  Shape shape;
  DType dtype;
  // Written and read by backward alone (attention's intermediate gradients): the block lives
  // for the layer's backward only, and its memory serves other blocks the rest of the step.
  bool backward_only = false;
};

// What a pass needs to know about the step: train or eval mode, and where dropout draws its
// mask from (seed, step, layer).
struct StepInfo {
  bool training = false;
  int64_t step = 0;
  uint64_t seed = 0;
  // Where the step index is in device memory, when the graph is told (Graph::
  // set_step_on_device): layers that draw random numbers read it there, not `step`.
  const int64_t* step_on_device = nullptr;
};

// How a layer's output may share memory with its first input.
enum class Aliasing {
  None,     // separate output buffer
  InPlace,  // element-wise on input 0: y may be x0 and dx0 may be dy (the graph decides, see
            // graph.hpp); the layer must work either way
  View,     // a reshape (Flatten): y is x viewed with another shape, no computation
};

// The gradient slots backward writes: one per input, null where no gradient is wanted.
using InputGrads = std::span<Tensor* const>;

class Layer {
 public:
  explicit Layer(std::string name) : name_(std::move(name)) {}
  virtual ~Layer() = default;
  Layer(const Layer&) = delete;
  Layer& operator=(const Layer&) = delete;

  const std::string& name() const { return name_; }
  // The module path the layer's parameters and state are named under (qualified_name): its
  // name, or "" for a layer whose parameter PyTorch keeps on the model itself (ClassToken).
  virtual std::string_view param_scope() const { return name_; }
  // PyTorch's class name: "Conv2d", "ReLU", "MaxPool2d", ...
  virtual std::string_view type() const = 0;

  // How many values the layer reads: a count, or 0 for "two or more" (Add, Concat).
  virtual int arity() const = 0;

  // The general form the graph calls: every input at once (UnaryLayer maps these onto its
  // one-input signatures). Checks that the layer accepts the inputs ([N, ...], N the batch)
  // and returns its output shape; sizes inferred from the input are fixed here. Throws
  // kestrel::Error naming the mismatch.
  virtual Shape setup_inputs(std::span<const Shape> inputs) = 0;
  // y = layer(inputs); y is preallocated (and is inputs[0] itself when the graph runs the
  // layer in place).
  virtual void forward_inputs(const Context& ctx, std::span<const Tensor> inputs, Tensor& y,
                              const StepInfo& step) = 0;
  // Writes the parameter gradients (overwriting them) and every non-null dinputs[i] = dL/dx_i
  // (overwriting it). inputs and y are the forward's; dy = dL/dy. When backward_needs_input()
  // is false the inputs' memory may already hold other values: read their shapes only; the
  // same holds for y and backward_needs_output().
  virtual void backward_inputs(const Context& ctx, std::span<const Tensor> inputs, const Tensor& y,
                               const Tensor& dy, InputGrads dinputs, const StepInfo& step) = 0;
  // Multiply-accumulates of one forward pass (torchinfo's "Mult-Adds": the products of
  // convolutions and matrix products; 0 for everything else).
  virtual int64_t multiply_adds_inputs(std::span<const Shape> inputs) const {
    (void)inputs;
    return 0;
  }

  // The parameters (after setup), in PyTorch's state_dict order.
  virtual std::vector<ParamSpec> params() const { return {}; }
  // Views of the parameters and their gradients, in params() order. The gradient of a frozen
  // parameter (Graph::freeze) is an undefined tensor: the layer computes none for it.
  virtual void bind_params(std::span<const Tensor> params, std::span<const Tensor> grads) {
    (void)params;
    (void)grads;
  }
  // Non-trainable state (after setup), in PyTorch's state_dict order, and views of it.
  virtual std::vector<StateSpec> state() const { return {}; }
  virtual void bind_state(std::span<const Tensor> state) { (void)state; }
  // Sets the state to its initial values (batch norm: mean 0, variance 1, no batches), on
  // ctx's device; the graph calls it once the state is bound.
  virtual void reset_state(const Context& ctx) { (void)ctx; }
  // What forward saves for backward (after setup), for the batch of setup(), and views of it.
  virtual std::vector<SavedSpec> saved() const { return {}; }
  virtual void bind_saved(std::span<const Tensor> saved) { (void)saved; }

  // What the graph needs to know to plan memory (graph.hpp): conservative defaults.
  virtual Aliasing aliasing() const { return Aliasing::None; }
  virtual bool backward_needs_input() const { return true; }
  virtual bool backward_needs_output() const { return false; }

  // An activation names itself ("relu", "tanh"; init::calculate_gain's names): the layer with
  // parameters before it is initialised with that gain, and a layer before it may absorb it.
  virtual std::string_view nonlinearity() const { return {}; }
  // The graph offers each layer the layer that runs in place on its output (null when none)
  // once per plan. Returning true means this layer applies `next` in its own forward (Linear
  // absorbs a ReLU into the product); the graph then skips next's forward, and next's backward
  // still runs on the shared output.
  virtual bool absorb(const Layer* next) {
    (void)next;
    return false;
  }
  // Eval-time folding (Graph::set_eval_folding): the graph offers each layer the layer that is
  // the only reader of its output, once per plan. A layer that can run `next` folded into its
  // own evaluation pass returns the f32 scratch it needs for that (the folded weights; > 0),
  // else 0. An evaluation pass then skips this layer and, at next's turn, calls
  // forward_folded(x = this layer's input, y = next's output). Training passes never fold.
  // (Conv2d folds a BatchNorm2d with running statistics.)
  virtual int64_t eval_fold_numel(const Layer& next) const {
    (void)next;
    return 0;
  }
  virtual void forward_folded(const Context& ctx, const Layer& next, const Tensor& x, Tensor& y,
                              Tensor& scratch) const {
    (void)ctx;
    (void)next;
    (void)x;
    (void)y;
    (void)scratch;
  }
  // Fills what a summary row knows only from the layer (window, stride, dropout probability).
  virtual void describe(LayerSummary& row) const { (void)row; }
  // A short caption for drawings of the graph: the type, and the settings that tell two
  // layers of that type apart ("Conv2d 3x3/2 64", "MaxPool2d 3x3/2", "Dropout 0.5"); valid
  // after setup.
  virtual std::string label() const { return std::string(type()); }
  // Training without random drops (Graph::disable_dropout): Dropout and DropPath become the
  // identity, so a training step is a function of the weights and the batch alone.
  virtual void disable_dropout() {}

  // The layer's position in its graph (set by the graph; dropout streams use it).
  int index() const { return index_; }
  void set_index(int index) { index_ = index; }

 private:
  std::string name_;
  int index_ = 0;
};

// A layer with one input: the signatures every unary op implements (README: how to add an op).
class UnaryLayer : public Layer {
 public:
  using Layer::Layer;

  int arity() const final { return 1; }
  Shape setup_inputs(std::span<const Shape> inputs) final { return setup(inputs[0]); }
  void forward_inputs(const Context& ctx, std::span<const Tensor> inputs, Tensor& y,
                      const StepInfo& step) final {
    forward(ctx, inputs[0], y, step);
  }
  void backward_inputs(const Context& ctx, std::span<const Tensor> inputs, const Tensor& y,
                       const Tensor& dy, InputGrads dinputs, const StepInfo& step) final {
    backward(ctx, inputs[0], y, dy, dinputs[0], step);
  }
  int64_t multiply_adds_inputs(std::span<const Shape> inputs) const final {
    return multiply_adds(inputs[0]);
  }

  virtual Shape setup(const Shape& input) = 0;
  virtual void forward(const Context& ctx, const Tensor& x, Tensor& y, const StepInfo& step) = 0;
  // dx is null when no gradient is wanted for x.
  virtual void backward(const Context& ctx, const Tensor& x, const Tensor& y, const Tensor& dy,
                        Tensor* dx, const StepInfo& step) = 0;
  virtual int64_t multiply_adds(const Shape& input) const {
    (void)input;
    return 0;
  }
};

}  // namespace kestrel::nn
