#pragma once
// Layer: one node of a static graph, split as in Caffe into shape setup (once, before any
// memory exists), forward and backward. A layer never allocates: the graph gives it views of
// its parameters and gradients (into one flat buffer each), of its kept state (max-pool
// argmax, LRN scale) and of its input and output activations, all allocated once for the
// largest batch. A smaller batch arrives as the leading rows of those views.
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

// How Graph::initialize fills a parameter: weights by the chosen scheme from their fans,
// biases together with the weight of their layer (engine/init: init::initialize).
enum class ParamKind { Weight, Bias };

struct ParamSpec {
  std::string name;  // local name: "weight" or "bias"
  Shape shape;       // PyTorch's layout ([out, in, kh, kw], [out, in], [out])
  ParamKind kind;
};

// State a layer keeps from forward to backward, one row per sample (batch dimension first).
struct BufferSpec {
  Shape shape;
  DType dtype;
};

// What a pass needs to know about the step: dropout draws its mask from (seed, step, layer).
struct StepInfo {
  bool training = false;
  int64_t step = 0;
  uint64_t seed = 0;
  // Where the step index is in device memory, when the graph is told (Graph::
  // set_step_on_device): layers that draw random numbers read it there, not `step`.
  const int64_t* step_on_device = nullptr;
};

// How a layer's output may share memory with its input.
enum class Aliasing {
  None,     // separate output buffer
  InPlace,  // element-wise: y may be x and dx may be dy; backward reads neither x nor the
            // previous layer's output
  View,     // a reshape (Flatten): y is x viewed with another shape, no computation
};

class Layer {
 public:
  explicit Layer(std::string name) : name_(std::move(name)) {}
  virtual ~Layer() = default;
  Layer(const Layer&) = delete;
  Layer& operator=(const Layer&) = delete;

  const std::string& name() const { return name_; }
  // PyTorch's class name: "Conv2d", "ReLU", "MaxPool2d", ...
  virtual std::string_view type() const = 0;

  // Checks that the layer accepts `input` ([N, ...], N the batch) and returns its output shape.
  // Sizes the layer infers from its input (in_features left at 0) are fixed here. Throws
  // kestrel::Error naming the mismatch.
  virtual Shape setup(const Shape& input) = 0;
  // The parameters (after setup), in PyTorch's state_dict order.
  virtual std::vector<ParamSpec> params() const { return {}; }
  // Views of the parameters and their gradients, in params() order.
  virtual void bind_params(std::span<const Tensor> params, std::span<const Tensor> grads) {
    (void)params;
    (void)grads;
  }
  // State kept from forward to backward (after setup), for the batch of setup().
  virtual std::vector<BufferSpec> buffers() const { return {}; }
  virtual void bind_buffers(std::span<const Tensor> buffers) { (void)buffers; }

  // y = layer(x); y is preallocated (and is x itself when the graph runs the layer in place).
  virtual void forward(const Context& ctx, const Tensor& x, Tensor& y, const StepInfo& step) = 0;
  // Writes the parameter gradients (overwriting them) and, when dx is not null, dL/dx. x and y
  // are the forward's input and output, dy = dL/dy.
  virtual void backward(const Context& ctx, const Tensor& x, const Tensor& y, const Tensor& dy,
                        Tensor* dx, const StepInfo& step) = 0;

  // Multiply-accumulates of one forward pass over `input` (torchinfo's "Mult-Adds": the
  // products of convolutions and matrix products; 0 for everything else).
  virtual int64_t multiply_adds(const Shape& input) const {
    (void)input;
    return 0;
  }
  virtual Aliasing aliasing() const { return Aliasing::None; }
  // Whether backward reads y: an in-place layer must not then overwrite this layer's output.
  virtual bool backward_needs_output() const { return false; }

  // The layer's position in its graph (set by the graph; dropout streams use it).
  int index() const { return index_; }
  void set_index(int index) { index_ = index; }

 private:
  std::string name_;
  int index_ = 0;
};

}  // namespace kestrel::nn
