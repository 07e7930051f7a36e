#pragma once
// SequentialGraph: a static graph whose layers run in a chain, each reading the previous
// layer's output (all LeNet-5 and AlexNet need; nn::Graph names it). Built once for an input
// shape and a largest batch: every shape is inferred, the parameters and their gradients get
// one flat f32 buffer each (layers hold views), and every activation, activation gradient and
// kept state (max-pool argmax, LRN scale) is allocated, so a training step allocates nothing
// itself. A smaller batch (the last of an epoch) runs on the leading rows of those buffers.
//
// Memory is shared where the arithmetic allows: an element-wise layer (ReLU, Tanh, Dropout)
// runs in place unless the layer that wrote its input reads its own output in backward (ReLU,
// Tanh, LRN); Flatten is a view; a ReLU after a Linear is fused into the product.
//
// Parameters are ordered as PyTorch's state_dict (layer order, weight before bias) and named
// `<layer>.<param>` ("conv1.weight", "classifier.6.bias"). Each starts at a multiple of 64
// elements (256 bytes, the alignment cuBLASLt's heuristics assume): the flat buffers hold zero
// padding between tensors, which gradients and optimizers leave at zero.
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "engine/init/init.hpp"
#include "engine/nn/layer.hpp"
#include "engine/nn/summary.hpp"

namespace kestrel::nn {

struct NamedTensor {
  std::string name;
  Tensor tensor;
};

// Where a parameter lives in the flat buffers.
struct ParamInfo {
  std::string name;  // "features.0.weight"
  Shape shape;       // PyTorch's layout
  int64_t offset;    // elements from the start of parameters() and gradients()
  int layer;         // index of its layer
  ParamKind kind;
};

class SequentialGraph {
 public:
  static constexpr int64_t kParamAlignment = 64;  // elements

  SequentialGraph() = default;
  SequentialGraph(SequentialGraph&&) = default;
  SequentialGraph& operator=(SequentialGraph&&) = default;

  // Appends a layer (the graph must then be planned or built again).
  Layer& add(std::unique_ptr<Layer> layer);
  template <class L, class... Args>
  L& add(Args&&... args) {
    return static_cast<L&>(add(std::make_unique<L>(std::forward<Args>(args)...)));
  }

  // Shape inference alone, no memory: every layer's setup for input [batch, *input_chw], the
  // parameter layout and the buffer plan. Throws kestrel::Error naming the layer that does not
  // fit, or when the output is not [batch, classes].
  void plan(const Shape& input_chw, int64_t batch, int64_t classes);
  // plan, then allocates everything on ctx's device. Parameters start at zero: call
  // initialize() (or load a checkpoint into named_parameters()).
  void build(const Context& ctx, const Shape& input_chw, int64_t batch, int64_t classes);
  // Builds for the input and classes of the last plan.
  void build(const Context& ctx, int64_t batch);

  // Logits [b, classes] for images [b, *input_chw] with 1 <= b <= batch: a view of the
  // graph's own buffer, valid until the next forward. Dropout masks come from
  // (seed(), step, layer index) when training; in evaluation dropout is the identity.
  Tensor forward(const Context& ctx, const Tensor& images, bool training, int64_t step);
  // Back-propagates dlogits ([b, classes] for the last forward's b) and overwrites every
  // parameter gradient. dlogits may be the logits forward returned (cross_entropy in place)
  // when the last layer's backward does not read its output (Linear). after_layer, when given,
  // is called with each layer's index as soon as its backward has been queued (last layer
  // first): that layer's parameter gradients are then complete in stream order, which is when
  // data-parallel training starts summing them across ranks while backward goes on.
  using BackwardHook = std::function<void(int layer)>;
  void backward(const Context& ctx, const Tensor& dlogits, const BackwardHook& after_layer = {});

  Tensor& parameters();
  Tensor& gradients();
  // Views into parameters() / gradients(), in state_dict order with PyTorch's names.
  std::vector<NamedTensor> named_parameters() const;
  std::vector<NamedTensor> named_gradients() const;
  // The layout (known after plan).
  const std::vector<ParamInfo>& parameter_infos() const;

  // Fills the parameters by `scheme` (engine/init): each layer's weight draws from Philox
  // stream = its layer index, its bias from init::bias_stream of that. The Kaiming schemes use
  // the gain of the activation that follows the layer (tanh for Tanh, else relu). Also sets
  // the dropout seed to `seed`.
  void initialize(const Context& ctx, init::InitScheme scheme, uint64_t seed);
  // The seed dropout masks draw from (restore it when resuming a run).
  void set_seed(uint64_t seed) { seed_ = seed; }
  uint64_t seed() const { return seed_; }
  // The step index in device memory (train::StepLedger's clock), or null: with it set, layers
  // that draw random numbers in a training pass (dropout) read the step there when their
  // kernels run, and the `step` given to forward() no longer matters to them. A training
  // step's launches are then the same every step, as CUDA Graph replay needs.
  void set_step_on_device(const int64_t* step) { step_on_device_ = step; }

  // Elements of all parameters (padding not counted): PyTorch's sum of numel().
  int64_t parameter_count() const;
  // Per-layer rows and totals for the planned batch.
  GraphSummary summary() const;

  int size() const { return static_cast<int>(nodes_.size()); }
  Layer& layer(int i) { return *nodes_.at(static_cast<size_t>(i)).layer; }
  const Layer& layer(int i) const { return *nodes_.at(static_cast<size_t>(i)).layer; }
  // Layer i's output for the planned batch.
  const Shape& output_shape(int i) const { return nodes_.at(static_cast<size_t>(i)).output; }
  // Layer i's output in the last forward (a view; shared with its input when in place).
  const Tensor& layer_output(int i) const;
  bool planned() const { return planned_; }
  bool built() const { return built_; }
  const Shape& input_shape() const { return input_chw_; }
  int64_t batch_size() const { return batch_; }
  int64_t classes() const { return classes_; }

 private:
  struct Node {
    std::unique_ptr<Layer> layer;
    Shape input, output;  // for the planned batch
    int buffer = -1;      // activation buffer holding the output; -1: the graph's input
    bool owns_buffer = false;
    std::vector<int> params;  // indices into params_
    std::vector<BufferSpec> kept;
    int64_t multiply_adds = 0;
    std::string nvtx_forward, nvtx_backward;
  };

  void check_planned(const char* what) const;
  void check_built(const char* what) const;
  Tensor output_view(int i, int64_t b) const;
  Tensor output_grad_view(int i, int64_t b) const;
  std::string_view nonlinearity_after(int i) const;

  std::vector<Node> nodes_;
  std::vector<ParamInfo> params_;
  std::vector<Shape> buffer_shapes_;  // activation buffers, planned batch
  Shape input_chw_;
  int64_t batch_ = 0, classes_ = 0;
  int64_t flat_numel_ = 0;
  bool planned_ = false, built_ = false;
  uint64_t seed_ = 0;
  const int64_t* step_on_device_ = nullptr;

  Tensor params_flat_, grads_flat_;
  std::vector<Tensor> activations_, activation_grads_;
  std::vector<Tensor> kept_;  // every layer's kept state, in layer order

  // The last forward: its images, batch, step and every layer's output (views, reassigned in
  // place each step so that a step allocates nothing).
  Tensor images_;
  int64_t current_batch_ = 0;
  StepInfo current_step_;
  bool forward_done_ = false;
  std::vector<Tensor> outputs_, output_grads_;
};

using Graph = SequentialGraph;

}  // namespace kestrel::nn
