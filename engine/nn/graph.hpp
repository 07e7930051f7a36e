#pragma once
// Graph: a static directed acyclic graph of layers. Value 0 is the input (the images); every
// node reads one or more values already in the graph and produces one new value, so insertion
// order is a topological order: forward runs the nodes in that order, backward in reverse,
// and shape inference is one pass. The last node's value is the output (the logits). A chain
// (LeNet-5, AlexNet) is built with the sequential convenience add<L>(...), which reads the
// last value added; a branch names its inputs: node<L>({a, b}, ...).
//
// Built once for an input shape and a largest batch: every shape is inferred, the trainable
// parameters and their gradients get one flat f32 buffer each (layers hold views), the
// non-trainable state (buffers such as batch norm's running statistics, and frozen
// parameters) one flat store, and every activation, activation gradient, saved tensor and
// gradient scratch a block in one arena placed by lifetime (memory_plan.hpp), so a training
// step allocates nothing itself and every address stays fixed (CUDA Graph replay). A smaller
// batch (the last of an epoch) runs on the leading rows of those blocks.
//
// Time runs over 2N steps for N nodes: forward of node i at step i, backward of node i at
// step 2N-1-i. A value is live from its producer's forward to its last read: a reader's
// forward, a reader's backward when that backward reads its inputs, its producer's backward
// when that reads its output; the output stays live to the end (the caller reads the logits
// and may write their gradient over them). A value's gradient is live from the backward of its
// last reader (the first to contribute) to its producer's backward. A value read by several
// nodes receives the sum of their gradients: the first contribution (last reader, lowest input
// slot) is written in place, every later one into a scratch block and then added, in that
// fixed order (deterministic, no atomics).
//
// Memory is shared where provably safe: a View layer (Flatten) reads its input's memory; an
// element-wise layer (ReLU, Dropout, Add on its first input) runs in place when its input has
// no other reader, its own backward does not read that input, and nothing else reads the
// overwritten memory afterwards (no backward reads it, no later forward); its gradient then
// shares memory with its input's too. A layer may absorb the in-place layer after it (a ReLU
// after a Linear is fused into the product).
//
// Trainable parameters are ordered as PyTorch's state_dict (node order, weight before bias)
// and named `<layer>.<param>` ("conv1.weight", "classifier.6.bias"), or `<param>` alone for a
// layer whose parameter PyTorch keeps on the model itself (Layer::param_scope: ViT's
// "class_token"); planning refuses two tensors of one name. Each starts at a multiple
// of 64 elements (256 bytes, the alignment cuBLASLt's heuristics assume): the flat buffers hold
// zero padding between tensors, which gradients and optimizers leave at zero.
#include <cstdint>
#include <functional>
#include <initializer_list>
#include <memory>
#include <set>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "engine/init/init.hpp"
#include "engine/nn/layer.hpp"
#include "engine/nn/memory_plan.hpp"
#include "engine/nn/summary.hpp"

namespace kestrel::nn {

// A value of the graph: 0 is the input, k >= 1 the output of node k - 1.
using ValueId = int;

struct NamedTensor {
  std::string name;
  Tensor tensor;
};

// Where a trainable parameter lives in the flat buffers.
struct ParamInfo {
  std::string name;  // "features.0.weight"
  Shape shape;       // PyTorch's layout
  int64_t offset;    // elements from the start of parameters() and gradients()
  int layer;         // index of its node
  ParamKind kind;
};

// Where a non-trainable tensor (a buffer, or a frozen parameter) lives in the state store.
struct StateInfo {
  std::string name;  // "bn1.running_mean", "conv1.weight" when frozen
  Shape shape;
  DType dtype;
  int64_t byte_offset;  // from the start of state()
  int layer;
  bool frozen_parameter;
};

class Graph {
 public:
  static constexpr int64_t kParamAlignment = 64;   // elements
  static constexpr int64_t kArenaAlignment = 256;  // bytes
  static constexpr ValueId kInput = 0;

  Graph() = default;
  Graph(Graph&&) = default;
  Graph& operator=(Graph&&) = default;

  // Adds a node reading `inputs` (values already in the graph, in the layer's input order) and
  // returns the value it produces. The graph must then be planned or built again.
  ValueId add(std::unique_ptr<Layer> layer, std::span<const ValueId> inputs);
  ValueId add(std::unique_ptr<Layer> layer, std::initializer_list<ValueId> inputs) {
    return add(std::move(layer), std::span<const ValueId>(inputs.begin(), inputs.size()));
  }
  template <class L, class... Args>
  ValueId node(std::initializer_list<ValueId> inputs, Args&&... args) {
    return add(std::make_unique<L>(std::forward<Args>(args)...), inputs);
  }
  // The sequential convenience: a node reading the last value added (the input at first).
  Layer& add(std::unique_ptr<Layer> layer);
  template <class L, class... Args>
  L& add(Args&&... args) {
    return static_cast<L&>(add(std::make_unique<L>(std::forward<Args>(args)...)));
  }
  // The value the last node produced (the input while the graph is empty).
  ValueId last_value() const { return static_cast<ValueId>(nodes_.size()); }

  // Makes the parameter `name` ("conv1.weight") non-trainable from the next plan on: it moves
  // to the state store (saved, not optimised, no gradient computed) and counts as a
  // non-trainable parameter. Planning fails if no layer has it.
  void freeze(const std::string& name);
  // Keeps every activation live to the end of backward (no reuse), so that layer_output()
  // can show any layer's output after a forward: for inspection and tests.
  void set_keep_activations(bool keep);
  // Evaluation passes fold a layer into the one before it where that layer declares it can
  // (Layer::eval_fold_numel: a BatchNorm2d into the Conv2d whose only reader it is, as
  //   W' = W * gamma / sqrt(var + eps),  b' = beta + (b - mean) * gamma / sqrt(var + eps)),
  // on by default; off to measure it or compare. The folded weights are computed from the
  // current parameters and statistics at each evaluation forward (one small launch per pair,
  // so nothing can go stale) into a buffer of their own, and one convolution writes the batch
  // norm's output. Training passes never fold. The skipped layer's own output (layer_output)
  // is not computed then, so folding is off while set_keep_activations is on. Takes effect at
  // the next plan/build.
  void set_eval_folding(bool fold);
  bool eval_folding() const { return eval_folding_; }
  // Pairs folded in this plan: (first node, the node folded into it).
  std::vector<std::pair<int, int>> folded_pairs() const;

  // Every Dropout and DropPath becomes the identity (Layer::disable_dropout): a training step
  // then depends on the weights and the batch alone (kestrel batch --no-dropout, for parity
  // with a PyTorch model whose dropout modules are set to p = 0).
  void disable_dropout();

  // Shape inference alone, no memory: every layer's setup for input [batch, *input_chw], the
  // parameter and state layout and the memory plan. Throws kestrel::Error naming the layer that
  // does not fit, a node whose value nobody reads, or an output that is not [batch, classes].
  void plan(const Shape& input_chw, int64_t batch, int64_t classes);
  // plan, then allocates everything on ctx's device. Parameters start at zero: call
  // initialize() (or load a checkpoint into named_parameters() and named_state()); the state
  // starts at each layer's initial values.
  void build(const Context& ctx, const Shape& input_chw, int64_t batch, int64_t classes);
  // Builds for the input and classes of the last plan.
  void build(const Context& ctx, int64_t batch);

  // Logits [b, classes] for images [b, *input_chw] with 1 <= b <= batch: a view of the
  // graph's own memory, valid until the next forward. `training` is the mode every layer sees
  // (dropout active, batch statistics); dropout masks come from (seed(), step, layer index).
  Tensor forward(const Context& ctx, const Tensor& images, bool training, int64_t step);
  // Back-propagates dlogits ([b, classes] for the last forward's b) and overwrites every
  // trainable parameter's gradient. dlogits may be the logits forward returned (cross_entropy
  // in place) when the last layer's backward does not read its output (Linear). after_layer,
  // when given, is called with each node's index as soon as its backward has been queued (last
  // node first): that node's parameter gradients are then complete in stream order, which is
  // when data-parallel training starts summing them across ranks while backward goes on.
  using BackwardHook = std::function<void(int layer)>;
  void backward(const Context& ctx, const Tensor& dlogits, const BackwardHook& after_layer = {});

  Tensor& parameters();
  Tensor& gradients();
  // The non-trainable store (bytes; named_state() gives its typed views). Empty when the model
  // has no state.
  Tensor& state();
  // Views into parameters() / gradients(), in state_dict order with PyTorch's names.
  std::vector<NamedTensor> named_parameters() const;
  std::vector<NamedTensor> named_gradients() const;
  // Views into state(): buffers and frozen parameters, in state_dict order.
  std::vector<NamedTensor> named_state() const;
  // Both: every tensor of PyTorch's state_dict (what a checkpoint holds and restores).
  std::vector<NamedTensor> state_dict() const;
  // The layouts (known after plan).
  const std::vector<ParamInfo>& parameter_infos() const;
  const std::vector<StateInfo>& state_infos() const;

  // The parameters (frozen or not) that start from a whitening of the input images
  // (ParamInit::PatchWhitening), as views: initialize() leaves them 0 and whoever holds the
  // training images fills them (train: init::patch_whitening).
  std::vector<NamedTensor> patch_whitened_parameters() const;

  // Fills the parameters (frozen ones too) by `scheme` (engine/init): each node's weight draws
  // from Philox stream = its node index, its bias from init::bias_stream of that. The Kaiming
  // schemes use the gain of the activation that follows the node (the nonlinearity of the
  // first layer along its first readers, before any layer with parameters; relu when none).
  // A parameter that declares a fixed start (ParamInit: batch norm's weight 1 and bias 0, ViT's
  // pos_embedding N(0, 0.02^2), attention's xavier_uniform_ in_proj_weight, ResNet's fan-out
  // Kaiming convolutions) gets it under every scheme; a fixed draw of the node's k-th parameter
  // uses stream node | k << 32 (k = 0: the stream the scheme would give it). Also sets the
  // dropout seed to `seed`. The
  // state keeps its values.
  void initialize(const Context& ctx, init::InitScheme scheme, uint64_t seed);
  // The seed dropout masks draw from (restore it when resuming a run).
  void set_seed(uint64_t seed) { seed_ = seed; }
  uint64_t seed() const { return seed_; }
  // The step index in device memory (train::StepLedger's clock), or null: with it set, layers
  // that draw random numbers in a training pass (dropout) read the step there when their
  // kernels run, and the `step` given to forward() no longer matters to them. A training
  // step's launches are then the same every step, as CUDA Graph replay needs.
  void set_step_on_device(const int64_t* step) { step_on_device_ = step; }

  // Elements of all parameters, frozen ones included (padding not counted): PyTorch's sum of
  // numel() over parameters().
  int64_t parameter_count() const;
  int64_t trainable_parameter_count() const;
  // Per-layer rows and totals for the planned batch, with the memory plan's peak.
  GraphSummary summary() const;
  // The memory plan's blocks and offsets (for tests and tools).
  const std::vector<MemoryBlock>& memory_blocks() const;
  const MemoryPlan& memory_plan() const;

  int size() const { return static_cast<int>(nodes_.size()); }
  Layer& layer(int i) { return *nodes_.at(static_cast<size_t>(i)).layer; }
  const Layer& layer(int i) const { return *nodes_.at(static_cast<size_t>(i)).layer; }
  // The values node i reads.
  const std::vector<ValueId>& node_inputs(int i) const {
    return nodes_.at(static_cast<size_t>(i)).inputs;
  }
  // Layer i's output for the planned batch.
  const Shape& output_shape(int i) const { return nodes_.at(static_cast<size_t>(i)).output; }
  // Layer i's output in the last forward (a view; shared with its input when in place). Throws
  // when the plan reused its memory before the end of forward (set_keep_activations keeps it).
  const Tensor& layer_output(int i) const;
  bool planned() const { return planned_; }
  bool built() const { return built_; }
  const Shape& input_shape() const { return input_chw_; }
  int64_t batch_size() const { return batch_; }
  int64_t classes() const { return classes_; }

 private:
  struct Node {
    std::unique_ptr<Layer> layer;
    std::vector<ValueId> inputs;
    std::vector<Shape> input_shapes;  // for the planned batch
    Shape output;
    std::vector<int> params;  // indices into params_ (trainable)
    std::vector<int> states;  // indices into states_ (frozen parameters, then buffers)
    // Per entry of layer->params(): where it lives (frozen: index into states_).
    struct ParamSlot {
      bool frozen;
      int index;
    };
    std::vector<ParamSlot> param_slots;
    std::vector<SavedSpec> saved;
    std::vector<int> saved_blocks;
    // Per input slot: the scratch block its gradient contribution goes to before being added
    // to the value's gradient, or -1 when it is written in place (the first contribution).
    std::vector<int> scratch_blocks;
    int64_t multiply_adds = 0;
    bool runs_backward = false;  // it has trainable parameters or an input that needs a gradient
    bool in_place = false;       // its output shares input 0's memory by Aliasing::InPlace
    int absorbed_by = -1;        // the node that applies it in its own forward (-1: none)
    // Eval-time folding (set_eval_folding): the node folded into this one, or the node this
    // one is folded into, and where the pair's scratch starts in fold_flat_.
    int fold_into = -1, fold_from = -1;
    int64_t fold_offset = 0;
    std::string nvtx_forward, nvtx_backward;
    // Per step: the input views, their gradient slots (reassigned, never reallocated).
    std::vector<Tensor> input_views, grad_views;
    std::vector<Tensor*> grad_slots;
  };
  struct Value {
    Shape shape;                               // for the planned batch
    int producer = -1;                         // node index; -1 for the input
    std::vector<std::pair<int, int>> readers;  // (node, input slot), in node order
    bool needs_grad = false;
    int block = -1;       // activation block; -1: the images (the input, or a view of it)
    int grad_block = -1;  // -1: no gradient (or the output's, which is dlogits)
  };

  void check_planned(const char* what) const;
  void check_built(const char* what) const;
  void infer_shapes(const Shape& input_chw, int64_t batch, int64_t classes);
  void lay_out_parameters_and_state();
  void plan_memory_blocks();
  void plan_eval_folds();
  Tensor block_view(int block, const Shape& shape, DType dtype, int64_t b) const;
  // A parameter's view: in the flat parameters, or in the state store when frozen.
  Tensor slot_view(const Node::ParamSlot& slot) const;
  std::string_view nonlinearity_after(int i) const;

  std::vector<Node> nodes_;
  std::vector<Value> values_;
  std::set<std::string> frozen_;
  bool keep_activations_ = false;
  bool eval_folding_ = true;
  int64_t fold_numel_ = 0;
  std::vector<ParamInfo> params_;
  std::vector<StateInfo> states_;
  std::vector<MemoryBlock> blocks_;
  MemoryPlan plan_;
  Shape input_chw_;
  int64_t batch_ = 0, classes_ = 0;
  int64_t flat_numel_ = 0, state_bytes_ = 0;
  bool planned_ = false, built_ = false;
  uint64_t seed_ = 0;
  const int64_t* step_on_device_ = nullptr;

  Tensor params_flat_, grads_flat_, state_, arena_;
  Tensor fold_flat_;  // every folded pair's scratch (folded weights); undefined when none

  // The last forward: its images, batch, step and every value (views, reassigned in place each
  // step so that a step allocates nothing).
  Tensor images_;
  int64_t current_batch_ = 0;
  StepInfo current_step_;
  bool forward_done_ = false;
  std::vector<Tensor> value_views_, grad_value_views_;
};

}  // namespace kestrel::nn
