#include "engine/nn/graph.hpp"

#include <fmt/format.h>

#include "engine/nn/activation.hpp"
#include "engine/nn/conv2d.hpp"
#include "engine/nn/dropout.hpp"
#include "engine/nn/linear.hpp"
#include "engine/nn/pooling.hpp"
#include "engine/runtime/nvtx.hpp"
#include "kernels/common/error.hpp"

namespace kestrel::nn {

namespace {

Shape with_batch(Shape s, int64_t batch) {
  s[0] = batch;
  return s;
}

int64_t bytes_of(const Shape& s, DType dtype) {
  return s.numel() * static_cast<int64_t>(dtype_size(dtype));
}

int64_t align_up(int64_t n, int64_t alignment) {
  return (n + alignment - 1) / alignment * alignment;
}

}  // namespace

Layer& SequentialGraph::add(std::unique_ptr<Layer> layer) {
  KESTREL_CHECK(layer != nullptr, "graph: add of a null layer");
  for (const Node& n : nodes_)
    KESTREL_CHECK(n.layer->name() != layer->name(), "graph: two layers named '{}'", layer->name());
  Node node;
  node.layer = std::move(layer);
  nodes_.push_back(std::move(node));
  planned_ = built_ = forward_done_ = false;
  return *nodes_.back().layer;
}

void SequentialGraph::plan(const Shape& input_chw, int64_t batch, int64_t classes) {
  planned_ = built_ = forward_done_ = false;
  KESTREL_CHECK(!nodes_.empty(), "graph: no layers to plan");
  KESTREL_CHECK(input_chw.ndim() >= 1 && input_chw.ndim() < Shape::kMaxDims,
                "graph: input shape {} must have 1 to {} dimensions (without the batch)",
                input_chw.str(), Shape::kMaxDims - 1);
  KESTREL_CHECK(batch >= 1, "graph: batch size must be positive, got {}", batch);
  KESTREL_CHECK(classes >= 1, "graph: classes must be positive, got {}", classes);

  int64_t dims[Shape::kMaxDims];
  dims[0] = batch;
  for (int d = 0; d < input_chw.ndim(); ++d) {
    KESTREL_CHECK(input_chw[d] >= 1, "graph: input shape {} has an empty dimension",
                  input_chw.str());
    dims[d + 1] = input_chw[d];
  }
  Shape shape = Shape::from(dims, input_chw.ndim() + 1);

  // Shapes, layer by layer; an error names the layer it happened in.
  for (size_t i = 0; i < nodes_.size(); ++i) {
    Node& n = nodes_[i];
    n.layer->set_index(static_cast<int>(i));
    n.input = shape;
    try {
      n.output = n.layer->setup(shape);
      n.multiply_adds = n.layer->multiply_adds(shape);
    } catch (const Error& e) {
      KESTREL_FAIL("layer {} ({}) on input {}: {}", n.layer->name(), n.layer->type(), shape.str(),
                   e.message().empty() ? e.what() : e.message());
    }
    shape = n.output;
  }
  const Node& last = nodes_.back();
  KESTREL_CHECK(last.output == (Shape{batch, classes}),
                "graph: the last layer {} ({}) gives {}, expected [{}, {}] for {} classes",
                last.layer->name(), last.layer->type(), last.output.str(), batch, classes, classes);

  // Parameters in state_dict order, each at an aligned offset.
  params_.clear();
  int64_t offset = 0;
  for (size_t i = 0; i < nodes_.size(); ++i) {
    Node& n = nodes_[i];
    n.params.clear();
    int weights = 0, biases = 0;
    for (ParamSpec& p : n.layer->params()) {
      (p.kind == ParamKind::Weight ? weights : biases) += 1;
      n.params.push_back(static_cast<int>(params_.size()));
      params_.push_back(
          {n.layer->name() + "." + p.name, p.shape, offset, static_cast<int>(i), p.kind});
      offset = align_up(offset + p.shape.numel(), kParamAlignment);
    }
    KESTREL_CHECK(weights <= 1 && biases <= weights,
                  "graph: layer {} declares {} weights and {} biases (at most one weight and its "
                  "bias)",
                  n.layer->name(), weights, biases);
    n.kept = n.layer->buffers();
  }
  flat_numel_ = offset;

  // Activation buffers: in place where the arithmetic allows it (see graph.hpp).
  buffer_shapes_.clear();
  std::vector<int> last_writer;  // per buffer: the layer that last wrote it
  int previous = -1;             // the buffer holding the previous layer's output
  for (size_t i = 0; i < nodes_.size(); ++i) {
    Node& n = nodes_[i];
    n.owns_buffer = false;
    const Aliasing a = n.layer->aliasing();
    const bool in_place = a == Aliasing::InPlace && previous >= 0 &&
                          !nodes_[static_cast<size_t>(last_writer[static_cast<size_t>(previous)])]
                               .layer->backward_needs_output();
    if (a == Aliasing::View) {
      n.buffer = previous;
    } else if (in_place) {
      n.buffer = previous;
      last_writer[static_cast<size_t>(previous)] = static_cast<int>(i);
    } else {
      n.buffer = static_cast<int>(buffer_shapes_.size());
      n.owns_buffer = true;
      buffer_shapes_.push_back(n.output);
      last_writer.push_back(static_cast<int>(i));
    }
    previous = n.buffer;
  }

  // A ReLU running in place on a Linear's output is fused into the product.
  for (Node& n : nodes_) {
    if (auto* linear = dynamic_cast<Linear*>(n.layer.get())) linear->set_fused_relu(false);
    if (auto* relu = dynamic_cast<ReLU*>(n.layer.get())) relu->set_fused(false);
  }
  for (size_t i = 0; i + 1 < nodes_.size(); ++i) {
    auto* linear = dynamic_cast<Linear*>(nodes_[i].layer.get());
    auto* relu = dynamic_cast<ReLU*>(nodes_[i + 1].layer.get());
    if (linear == nullptr || relu == nullptr || nodes_[i + 1].buffer != nodes_[i].buffer) continue;
    linear->set_fused_relu(true);
    relu->set_fused(true);
  }
  for (Node& n : nodes_) {
    n.nvtx_forward = n.layer->name() + " forward";
    n.nvtx_backward = n.layer->name() + " backward";
  }

  input_chw_ = input_chw;
  batch_ = batch;
  classes_ = classes;
  planned_ = true;
}

void SequentialGraph::build(const Context& ctx, const Shape& input_chw, int64_t batch,
                            int64_t classes) {
  plan(input_chw, batch, classes);
  const Device d = ctx.device();
  params_flat_ = Tensor::zeros(Shape{flat_numel_}, DType::F32, d);
  grads_flat_ = Tensor::zeros(Shape{flat_numel_}, DType::F32, d);

  activations_.clear();
  activation_grads_.clear();
  for (const Shape& s : buffer_shapes_) {
    activations_.push_back(Tensor::empty(s, DType::F32, d));
    activation_grads_.push_back(Tensor::empty(s, DType::F32, d));
  }

  kept_.clear();
  std::vector<Tensor> p, g, k;
  for (Node& n : nodes_) {
    p.clear();
    g.clear();
    k.clear();
    for (int index : n.params) {
      const ParamInfo& info = params_[static_cast<size_t>(index)];
      p.push_back(params_flat_.sub(info.offset, info.shape));
      g.push_back(grads_flat_.sub(info.offset, info.shape));
    }
    for (const BufferSpec& b : n.kept) {
      k.push_back(Tensor::empty(b.shape, b.dtype, d));
      kept_.push_back(k.back());
    }
    n.layer->bind_params(p, g);
    n.layer->bind_buffers(k);
  }

  outputs_.assign(nodes_.size(), Tensor());
  output_grads_.assign(nodes_.size(), Tensor());
  images_ = Tensor();
  built_ = true;
}

void SequentialGraph::build(const Context& ctx, int64_t batch) {
  check_planned("build");
  build(ctx, Shape(input_chw_), batch, classes_);
}

void SequentialGraph::check_planned(const char* what) const {
  KESTREL_CHECK(planned_, "graph: {} before the graph was planned or built", what);
}

void SequentialGraph::check_built(const char* what) const {
  KESTREL_CHECK(built_, "graph: {} before the graph was built", what);
}

// Layer i's output for batch b: the leading rows of its buffer (or of the images, for a view
// of them), in the layer's output shape.
Tensor SequentialGraph::output_view(int i, int64_t b) const {
  const Node& n = nodes_[static_cast<size_t>(i)];
  const Shape shape = with_batch(n.output, b);
  if (n.buffer < 0) return images_.view(shape);
  return activations_[static_cast<size_t>(n.buffer)].slice(0, b).view(shape);
}

Tensor SequentialGraph::output_grad_view(int i, int64_t b) const {
  const Node& n = nodes_[static_cast<size_t>(i)];
  return activation_grads_[static_cast<size_t>(n.buffer)].slice(0, b).view(with_batch(n.output, b));
}

Tensor SequentialGraph::forward(const Context& ctx, const Tensor& images, bool training,
                                int64_t step) {
  check_built("forward");
  NvtxRange range("forward");
  const Shape& s = images.shape();
  bool fits = images.defined() && images.dtype() == DType::F32 &&
              s.ndim() == input_chw_.ndim() + 1 && s[0] >= 1 && s[0] <= batch_;
  for (int d = 0; fits && d < input_chw_.ndim(); ++d) fits = s[d + 1] == input_chw_[d];
  KESTREL_CHECK(fits, "graph: images {} do not fit the graph's input [1..{}, {}] f32",
                images.defined() ? images.str() : "undefined", batch_,
                input_chw_.str().substr(1, input_chw_.str().size() - 2));
  KESTREL_CHECK(images.device() == ctx.device() && params_flat_.device() == ctx.device(),
                "graph: images on {} and graph on {} but the context runs on {}",
                images.device().str(), params_flat_.device().str(), ctx.device().str());

  images_ = images;
  current_batch_ = s[0];
  current_step_ = StepInfo{training, step, seed_, step_on_device_};
  for (int i = 0; i < size(); ++i) {
    Node& n = nodes_[static_cast<size_t>(i)];
    NvtxRange layer_range(n.nvtx_forward);
    const Tensor& x = i == 0 ? images_ : outputs_[static_cast<size_t>(i - 1)];
    outputs_[static_cast<size_t>(i)] = output_view(i, current_batch_);
    n.layer->forward(ctx, x, outputs_[static_cast<size_t>(i)], current_step_);
  }
  forward_done_ = true;
  return outputs_.back();
}

void SequentialGraph::backward(const Context& ctx, const Tensor& dlogits,
                               const BackwardHook& after_layer) {
  check_built("backward");
  KESTREL_CHECK(forward_done_, "graph: backward without a forward");
  NvtxRange range("backward");
  const Tensor& logits = outputs_.back();
  KESTREL_CHECK(dlogits.defined() && dlogits.dtype() == DType::F32 &&
                    dlogits.shape() == logits.shape() && dlogits.device() == ctx.device(),
                "graph: dlogits {} must be f32{} on {} like the last forward's logits",
                dlogits.defined() ? dlogits.str() : "undefined", logits.shape().str(),
                ctx.device().str());
  const Node& last = nodes_.back();
  KESTREL_CHECK(dlogits.raw_data() != logits.raw_data() || !last.layer->backward_needs_output(),
                "graph: dlogits overwrote the logits, which the last layer {} ({}) reads in "
                "backward",
                last.layer->name(), last.layer->type());

  for (int i = size() - 1; i >= 0; --i) {
    Node& n = nodes_[static_cast<size_t>(i)];
    NvtxRange layer_range(n.nvtx_backward);
    const Tensor& x = i == 0 ? images_ : outputs_[static_cast<size_t>(i - 1)];
    const Tensor& dy = i == size() - 1 ? dlogits : output_grads_[static_cast<size_t>(i)];
    // No gradient for the images (nor for a view of them).
    const bool needs_dx = i > 0 && nodes_[static_cast<size_t>(i - 1)].buffer >= 0;
    Tensor* dx = nullptr;
    if (needs_dx) {
      output_grads_[static_cast<size_t>(i - 1)] = output_grad_view(i - 1, current_batch_);
      dx = &output_grads_[static_cast<size_t>(i - 1)];
    }
    n.layer->backward(ctx, x, outputs_[static_cast<size_t>(i)], dy, dx, current_step_);
    if (after_layer) after_layer(i);
  }
}

const Tensor& SequentialGraph::layer_output(int i) const {
  KESTREL_CHECK(forward_done_, "graph: layer_output before a forward");
  KESTREL_CHECK(i >= 0 && i < size(), "graph: no layer {} (the graph has {})", i, size());
  return outputs_[static_cast<size_t>(i)];
}

Tensor& SequentialGraph::parameters() {
  check_built("parameters");
  return params_flat_;
}

Tensor& SequentialGraph::gradients() {
  check_built("gradients");
  return grads_flat_;
}

std::vector<NamedTensor> SequentialGraph::named_parameters() const {
  check_built("named_parameters");
  std::vector<NamedTensor> out;
  for (const ParamInfo& p : params_) out.push_back({p.name, params_flat_.sub(p.offset, p.shape)});
  return out;
}

std::vector<NamedTensor> SequentialGraph::named_gradients() const {
  check_built("named_gradients");
  std::vector<NamedTensor> out;
  for (const ParamInfo& p : params_) out.push_back({p.name, grads_flat_.sub(p.offset, p.shape)});
  return out;
}

const std::vector<ParamInfo>& SequentialGraph::parameter_infos() const {
  check_planned("parameter_infos");
  return params_;
}

int64_t SequentialGraph::parameter_count() const {
  check_planned("parameter_count");
  int64_t total = 0;
  for (const ParamInfo& p : params_) total += p.shape.numel();
  return total;
}

std::string_view SequentialGraph::nonlinearity_after(int i) const {
  for (size_t j = static_cast<size_t>(i) + 1; j < nodes_.size(); ++j) {
    const Layer& l = *nodes_[j].layer;
    if (dynamic_cast<const Tanh*>(&l) != nullptr) return "tanh";
    if (dynamic_cast<const ReLU*>(&l) != nullptr || !nodes_[j].params.empty()) break;
  }
  return "relu";
}

void SequentialGraph::initialize(const Context& ctx, init::InitScheme scheme, uint64_t seed) {
  check_built("initialize");
  seed_ = seed;
  for (size_t i = 0; i < nodes_.size(); ++i) {
    const Node& n = nodes_[i];
    if (n.params.empty()) continue;
    Tensor weight, bias;
    for (int index : n.params) {
      const ParamInfo& p = params_[static_cast<size_t>(index)];
      (p.kind == ParamKind::Weight ? weight : bias) = params_flat_.sub(p.offset, p.shape);
    }
    init::initialize(ctx, scheme, weight, bias.defined() ? &bias : nullptr, seed,
                     static_cast<uint64_t>(i), nonlinearity_after(static_cast<int>(i)));
  }
}

namespace {

// Window, stride and dropout probability of the layers that have them.
void describe_layer(const Layer& layer, LayerSummary& row) {
  if (const auto* conv = dynamic_cast<const Conv2d*>(&layer)) {
    row.kernel = conv->kernel_size();
    row.stride = conv->spec().stride_h;
  } else if (const auto* max_pool = dynamic_cast<const MaxPool2d*>(&layer)) {
    row.kernel = max_pool->spec().kernel_h;
    row.stride = max_pool->spec().stride_h;
  } else if (const auto* avg_pool = dynamic_cast<const AvgPool2d*>(&layer)) {
    row.kernel = avg_pool->spec().kernel_h;
    row.stride = avg_pool->spec().stride_h;
  } else if (const auto* dropout = dynamic_cast<const Dropout*>(&layer)) {
    row.dropout = dropout->p();
  }
}

}  // namespace

GraphSummary SequentialGraph::summary() const {
  check_planned("summary");
  GraphSummary s;
  s.input = nodes_.front().input;
  s.input_bytes = bytes_of(s.input, DType::F32);
  for (const Node& n : nodes_) {
    LayerSummary row;
    row.name = n.layer->name();
    row.type = std::string(n.layer->type());
    row.output = n.output;
    for (int index : n.params) row.params += params_[static_cast<size_t>(index)].shape.numel();
    row.multiply_adds = n.multiply_adds;
    describe_layer(*n.layer, row);
    if (n.owns_buffer) row.activation_bytes += bytes_of(n.output, DType::F32);
    for (const BufferSpec& b : n.kept) row.activation_bytes += bytes_of(b.shape, b.dtype);
    const auto* relu = dynamic_cast<const ReLU*>(n.layer.get());
    if (relu != nullptr && relu->fused()) {
      row.memory_note = "fused";
    } else if (n.layer->aliasing() == Aliasing::View) {
      row.memory_note = "view";
    } else if (!n.owns_buffer) {
      row.memory_note = "in place";
    }
    s.total_params += row.params;
    s.multiply_adds += row.multiply_adds;
    s.activation_bytes += row.activation_bytes;
    s.layers.push_back(std::move(row));
  }
  for (const Shape& b : buffer_shapes_) s.activation_grad_bytes += bytes_of(b, DType::F32);
  s.param_bytes = flat_numel_ * static_cast<int64_t>(sizeof(float));
  s.gradient_bytes = s.param_bytes;
  return s;
}

}  // namespace kestrel::nn
