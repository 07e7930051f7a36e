#include "engine/nn/graph.hpp"

#include <fmt/format.h>

#include "engine/ops/add.hpp"
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

}  // namespace

ValueId Graph::add(std::unique_ptr<Layer> layer, std::span<const ValueId> inputs) {
  KESTREL_CHECK(layer != nullptr, "graph: add of a null layer");
  for (const Node& n : nodes_)
    KESTREL_CHECK(n.layer->name() != layer->name(), "graph: two layers named '{}'", layer->name());
  const ValueId next = last_value() + 1;
  KESTREL_CHECK(!inputs.empty(), "graph: layer {} reads no value", layer->name());
  for (ValueId v : inputs)
    KESTREL_CHECK(v >= 0 && v < next,
                  "graph: layer {} reads value {}, which is not in the graph (values 0 to {})",
                  layer->name(), v, next - 1);
  const int arity = layer->arity();
  KESTREL_CHECK(arity == 0 ? inputs.size() >= 2 : inputs.size() == static_cast<size_t>(arity),
                "graph: layer {} ({}) reads {}, got {} value(s)", layer->name(), layer->type(),
                arity == 0 ? std::string("two or more values") : fmt::format("{} value(s)", arity),
                inputs.size());
  Node node;
  node.layer = std::move(layer);
  node.inputs.assign(inputs.begin(), inputs.end());
  nodes_.push_back(std::move(node));
  planned_ = built_ = forward_done_ = false;
  return next;
}

Layer& Graph::add(std::unique_ptr<Layer> layer) {
  const ValueId input = last_value();
  add(std::move(layer), {input});
  return *nodes_.back().layer;
}

void Graph::freeze(const std::string& name) {
  frozen_.insert(name);
  planned_ = built_ = forward_done_ = false;
}

void Graph::set_keep_activations(bool keep) {
  keep_activations_ = keep;
  planned_ = built_ = forward_done_ = false;
}

void Graph::plan(const Shape& input_chw, int64_t batch, int64_t classes) {
  planned_ = built_ = forward_done_ = false;
  infer_shapes(input_chw, batch, classes);
  lay_out_parameters_and_state();
  plan_memory_blocks();
  plan_eval_folds();
  for (Node& n : nodes_) {
    n.nvtx_forward = n.layer->name() + " forward";
    n.nvtx_backward = n.layer->name() + " backward";
  }
  input_chw_ = input_chw;
  batch_ = batch;
  classes_ = classes;
  planned_ = true;
}

void Graph::build(const Context& ctx, const Shape& input_chw, int64_t batch, int64_t classes) {
  plan(input_chw, batch, classes);
  const Device d = ctx.device();
  params_flat_ = Tensor::zeros(Shape{flat_numel_}, DType::F32, d);
  grads_flat_ = Tensor::zeros(Shape{flat_numel_}, DType::F32, d);
  state_ = Tensor::zeros(Shape{state_bytes_}, DType::U8, d);
  arena_ = Tensor::empty(Shape{std::max<int64_t>(plan_.arena_bytes, 1)}, DType::U8, d);
  fold_flat_ = fold_numel_ > 0 ? Tensor::empty(Shape{fold_numel_}, DType::F32, d) : Tensor();

  std::vector<Tensor> p, g, s, k;
  for (size_t i = 0; i < nodes_.size(); ++i) {
    Node& n = nodes_[i];
    p.clear();
    g.clear();
    s.clear();
    k.clear();
    // A frozen parameter is bound from the state store, with no gradient (an undefined view).
    for (const Node::ParamSlot& slot : n.param_slots) {
      if (slot.frozen) {
        const StateInfo& info = states_[static_cast<size_t>(slot.index)];
        p.push_back(state_.reinterpret(info.byte_offset, info.shape, info.dtype));
        g.push_back(Tensor());
      } else {
        const ParamInfo& info = params_[static_cast<size_t>(slot.index)];
        p.push_back(params_flat_.sub(info.offset, info.shape));
        g.push_back(grads_flat_.sub(info.offset, info.shape));
      }
    }
    for (int index : n.states) {
      const StateInfo& info = states_[static_cast<size_t>(index)];
      if (!info.frozen_parameter)
        s.push_back(state_.reinterpret(info.byte_offset, info.shape, info.dtype));
    }
    for (size_t j = 0; j < n.saved.size(); ++j)
      k.push_back(
          block_view(n.saved_blocks[j], n.saved[j].shape, n.saved[j].dtype, n.saved[j].shape[0]));
    n.layer->bind_params(p, g);
    n.layer->bind_state(s);
    n.layer->bind_saved(k);
    n.layer->reset_state(ctx);
    n.input_views.assign(n.inputs.size(), Tensor());
    n.grad_views.assign(n.inputs.size(), Tensor());
    n.grad_slots.assign(n.inputs.size(), nullptr);
  }

  value_views_.assign(values_.size(), Tensor());
  grad_value_views_.assign(values_.size(), Tensor());
  images_ = Tensor();
  built_ = true;
}

void Graph::build(const Context& ctx, int64_t batch) {
  check_planned("build");
  build(ctx, Shape(input_chw_), batch, classes_);
}

void Graph::check_planned(const char* what) const {
  KESTREL_CHECK(planned_, "graph: {} before the graph was planned or built", what);
}

void Graph::check_built(const char* what) const {
  KESTREL_CHECK(built_, "graph: {} before the graph was built", what);
}

// The leading b rows of a block, as `shape` (planned batch) with b rows.
Tensor Graph::block_view(int block, const Shape& shape, DType dtype, int64_t b) const {
  return arena_.reinterpret(plan_.offsets[static_cast<size_t>(block)], with_batch(shape, b), dtype);
}

Tensor Graph::forward(const Context& ctx, const Tensor& images, bool training, int64_t step) {
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
  value_views_[0] = images_;
  for (int i = 0; i < size(); ++i) {
    Node& n = nodes_[static_cast<size_t>(i)];
    NvtxRange layer_range(n.nvtx_forward);
    const Value& out = values_[static_cast<size_t>(i + 1)];
    Tensor& y = value_views_[static_cast<size_t>(i + 1)];
    y = out.block < 0 ? images_.view(with_batch(out.shape, current_batch_))
                      : block_view(out.block, out.shape, DType::F32, current_batch_);
    for (size_t slot = 0; slot < n.inputs.size(); ++slot)
      n.input_views[slot] = value_views_[static_cast<size_t>(n.inputs[slot])];
    if (!training && n.fold_into >= 0) continue;  // the node it folds into runs it
    if (!training && n.fold_from >= 0) {
      const Node& first = nodes_[static_cast<size_t>(n.fold_from)];
      NvtxRange fold_range(first.nvtx_forward + "+" + n.layer->name());
      const int64_t numel = first.layer->eval_fold_numel(*n.layer);
      Tensor scratch = fold_flat_.sub(n.fold_offset, Shape{numel});
      first.layer->forward_folded(ctx, *n.layer, value_views_[static_cast<size_t>(first.inputs[0])],
                                  y, scratch);
      continue;
    }
    // An absorbed layer runs after all when its absorber's own forward did not (a batch norm
    // folded into its convolution in evaluation).
    const bool absorbed =
        n.absorbed_by >= 0 &&
        (training || nodes_[static_cast<size_t>(n.absorbed_by)].fold_from < 0);
    if (!absorbed) n.layer->forward_inputs(ctx, n.input_views, y, current_step_);
  }
  forward_done_ = true;
  return value_views_.back();
}

void Graph::backward(const Context& ctx, const Tensor& dlogits, const BackwardHook& after_layer) {
  check_built("backward");
  KESTREL_CHECK(forward_done_, "graph: backward without a forward");
  NvtxRange range("backward");
  const Tensor& logits = value_views_.back();
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

  grad_value_views_.back() = dlogits;
  for (int i = size() - 1; i >= 0; --i) {
    Node& n = nodes_[static_cast<size_t>(i)];
    if (n.runs_backward) {
      NvtxRange layer_range(n.nvtx_backward);
      for (size_t slot = 0; slot < n.inputs.size(); ++slot) {
        const ValueId x = n.inputs[slot];
        const Value& xv = values_[static_cast<size_t>(x)];
        n.input_views[slot] = value_views_[static_cast<size_t>(x)];
        n.grad_slots[slot] = nullptr;
        if (!xv.needs_grad) continue;
        if (n.scratch_blocks[slot] < 0) {
          grad_value_views_[static_cast<size_t>(x)] =
              block_view(xv.grad_block, xv.shape, DType::F32, current_batch_);
          n.grad_slots[slot] = &grad_value_views_[static_cast<size_t>(x)];
        } else {
          n.grad_views[slot] =
              block_view(n.scratch_blocks[slot], xv.shape, DType::F32, current_batch_);
          n.grad_slots[slot] = &n.grad_views[slot];
        }
      }
      n.layer->backward_inputs(ctx, n.input_views, value_views_[static_cast<size_t>(i + 1)],
                               grad_value_views_[static_cast<size_t>(i + 1)], n.grad_slots,
                               current_step_);
      for (size_t slot = 0; slot < n.inputs.size(); ++slot) {
        if (n.scratch_blocks[slot] >= 0)
          ops::accumulate(ctx, n.grad_views[slot],
                          grad_value_views_[static_cast<size_t>(n.inputs[slot])]);
      }
    }
    if (after_layer) after_layer(i);
  }
}

const Tensor& Graph::layer_output(int i) const {
  KESTREL_CHECK(forward_done_, "graph: layer_output before a forward");
  KESTREL_CHECK(i >= 0 && i < size(), "graph: no layer {} (the graph has {})", i, size());
  const Value& v = values_[static_cast<size_t>(i + 1)];
  KESTREL_CHECK(v.block < 0 || blocks_[static_cast<size_t>(v.block)].last >= size() - 1,
                "graph: the output of layer {} is not kept after forward (its memory is reused "
                "before the end of forward; set_keep_activations(true) keeps it)",
                nodes_[static_cast<size_t>(i)].layer->name());
  return value_views_[static_cast<size_t>(i + 1)];
}

Tensor& Graph::parameters() {
  check_built("parameters");
  return params_flat_;
}

Tensor& Graph::gradients() {
  check_built("gradients");
  return grads_flat_;
}

Tensor& Graph::state() {
  check_built("state");
  return state_;
}

std::vector<NamedTensor> Graph::named_parameters() const {
  check_built("named_parameters");
  std::vector<NamedTensor> out;
  for (const ParamInfo& p : params_) out.push_back({p.name, params_flat_.sub(p.offset, p.shape)});
  return out;
}

std::vector<NamedTensor> Graph::named_gradients() const {
  check_built("named_gradients");
  std::vector<NamedTensor> out;
  for (const ParamInfo& p : params_) out.push_back({p.name, grads_flat_.sub(p.offset, p.shape)});
  return out;
}

std::vector<NamedTensor> Graph::named_state() const {
  check_built("named_state");
  std::vector<NamedTensor> out;
  for (const StateInfo& s : states_)
    out.push_back({s.name, state_.reinterpret(s.byte_offset, s.shape, s.dtype)});
  return out;
}

std::vector<NamedTensor> Graph::state_dict() const {
  std::vector<NamedTensor> out = named_parameters();
  for (NamedTensor& s : named_state()) out.push_back(std::move(s));
  return out;
}

const std::vector<ParamInfo>& Graph::parameter_infos() const {
  check_planned("parameter_infos");
  return params_;
}

const std::vector<StateInfo>& Graph::state_infos() const {
  check_planned("state_infos");
  return states_;
}

const std::vector<MemoryBlock>& Graph::memory_blocks() const {
  check_planned("memory_blocks");
  return blocks_;
}

const MemoryPlan& Graph::memory_plan() const {
  check_planned("memory_plan");
  return plan_;
}

int64_t Graph::trainable_parameter_count() const {
  check_planned("trainable_parameter_count");
  int64_t total = 0;
  for (const ParamInfo& p : params_) total += p.shape.numel();
  return total;
}

int64_t Graph::parameter_count() const {
  int64_t total = trainable_parameter_count();
  for (const StateInfo& s : states_)
    if (s.frozen_parameter) total += s.shape.numel();
  return total;
}

// Along first readers from node i's output, the first layer that names a nonlinearity, unless
// a layer with parameters comes before it.
std::string_view Graph::nonlinearity_after(int i) const {
  ValueId v = i + 1;
  while (!values_[static_cast<size_t>(v)].readers.empty()) {
    const int reader = values_[static_cast<size_t>(v)].readers.front().first;
    const Layer& l = *nodes_[static_cast<size_t>(reader)].layer;
    if (!l.nonlinearity().empty()) return l.nonlinearity();
    if (!l.params().empty()) break;
    v = reader + 1;
  }
  return "relu";
}

namespace {

// A parameter's fixed start (ParamInit other than Scheme). A draw uses stream node | k << 32
// for the layer's k-th parameter: k = 0 is the node's own weight stream, any other k stays
// clear of the node streams below 2^32, of init::bias_stream's bit 63 and of dropout's bit 62.
void initialize_fixed(const Context& ctx, const ParamSpec& spec, Tensor& view, uint64_t seed,
                      size_t node, size_t k) {
  const ParamInit how = spec.init;
  const uint64_t stream = static_cast<uint64_t>(node) | (static_cast<uint64_t>(k) << 32);
  switch (how) {
    case ParamInit::Zeros:
    case ParamInit::Ones:
      init::constant(ctx, view, how == ParamInit::Ones ? 1.0f : 0.0f);
      return;
    case ParamInit::Normal:
      init::normal(ctx, view, 0.0f, spec.scale, seed, stream);
      return;
    case ParamInit::Uniform:
      init::uniform(ctx, view, -spec.scale, spec.scale, seed, stream);
      return;
    case ParamInit::XavierUniform:
      init::xavier_uniform(ctx, view, 1.0f, seed, stream);
      return;
    case ParamInit::LinearDefault:
      init::pytorch_default_weight_and_bias(ctx, view, nullptr, seed, stream);
      return;
    case ParamInit::KaimingNormalFanOut:
    case ParamInit::KaimingNormalFanIn:
      init::kaiming_normal(ctx, view, 0.0f, how == ParamInit::KaimingNormalFanIn ? "fan_in" : "fan_out",
                           "relu", seed, stream);
      return;
    case ParamInit::PatchWhitening:
      // Filled from the data once it is at hand (Graph::data_initialized, the trainer).
      init::constant(ctx, view, 0.0f);
      return;
    case ParamInit::Scheme:
    case ParamInit::PartialDirac:
      break;
  }
  KESTREL_CHECK(false, "Graph::initialize: parameter start {} is not a fixed one",
                static_cast<int>(how));
}

}  // namespace

Tensor Graph::slot_view(const Node::ParamSlot& slot) const {
  if (slot.frozen) {
    const StateInfo& s = states_[static_cast<size_t>(slot.index)];
    return state_.reinterpret(s.byte_offset, s.shape, s.dtype);
  }
  const ParamInfo& p = params_[static_cast<size_t>(slot.index)];
  return params_flat_.sub(p.offset, p.shape);
}

std::vector<NamedTensor> Graph::patch_whitened_parameters() const {
  check_built("patch_whitened_parameters");
  std::vector<NamedTensor> out;
  for (const Node& n : nodes_) {
    const std::vector<ParamSpec> specs = n.layer->params();
    for (size_t k = 0; k < specs.size(); ++k)
      if (specs[k].init == ParamInit::PatchWhitening)
        out.push_back({qualified_name(n.layer->param_scope(), specs[k].name),
                       slot_view(n.param_slots[k])});
  }
  return out;
}

void Graph::initialize(const Context& ctx, init::InitScheme scheme, uint64_t seed) {
  check_built("initialize");
  seed_ = seed;
  for (size_t i = 0; i < nodes_.size(); ++i) {
    const Node& n = nodes_[i];
    if (n.param_slots.empty()) continue;
    Tensor weight, bias;
    bool dirac = false;
    const std::vector<ParamSpec> specs = n.layer->params();
    for (size_t k = 0; k < specs.size(); ++k) {
      const Node::ParamSlot& slot = n.param_slots[k];
      Tensor view = slot_view(slot);
      if (specs[k].init == ParamInit::PartialDirac) dirac = true;
      if (specs[k].init != ParamInit::Scheme && specs[k].init != ParamInit::PartialDirac) {
        initialize_fixed(ctx, specs[k], view, seed, i, k);
        continue;
      }
      (specs[k].kind == ParamKind::Weight ? weight : bias) = view;
    }
    if (!weight.defined()) continue;  // constants only (planning refuses a scheme bias alone)
    init::initialize(ctx, scheme, weight, bias.defined() ? &bias : nullptr, seed,
                     static_cast<uint64_t>(i), nonlinearity_after(static_cast<int>(i)));
    if (dirac) init::partial_dirac(ctx, weight);
  }
}

void Graph::disable_dropout() {
  for (Node& n : nodes_) n.layer->disable_dropout();
}

GraphSummary Graph::summary() const {
  check_planned("summary");
  GraphSummary s;
  s.input = values_[0].shape;
  s.input_bytes = bytes_of(s.input, DType::F32);
  std::vector<bool> block_counted(blocks_.size(), false);
  const bool chain = [&] {
    for (int i = 0; i < size(); ++i)
      if (nodes_[static_cast<size_t>(i)].inputs != std::vector<ValueId>{i}) return false;
    return true;
  }();
  for (int i = 0; i < size(); ++i) {
    const Node& n = nodes_[static_cast<size_t>(i)];
    LayerSummary row;
    row.name = n.layer->name();
    row.type = std::string(n.layer->type());
    row.output = n.output;
    if (!chain) {
      for (ValueId v : n.inputs)
        row.inputs.push_back(v == kInput ? "input"
                                         : nodes_[static_cast<size_t>(v - 1)].layer->name());
    }
    for (int index : n.params) row.params += params_[static_cast<size_t>(index)].shape.numel();
    for (int index : n.states) {
      const StateInfo& st = states_[static_cast<size_t>(index)];
      if (st.frozen_parameter) {
        row.params += st.shape.numel();
        row.frozen_params += st.shape.numel();
      }
    }
    row.multiply_adds = n.multiply_adds;
    n.layer->describe(row);
    const int block = values_[static_cast<size_t>(i + 1)].block;
    const bool owns = block >= 0 && !block_counted[static_cast<size_t>(block)];
    if (owns) {
      block_counted[static_cast<size_t>(block)] = true;
      row.activation_bytes += bytes_of(n.output, DType::F32);
    }
    for (const SavedSpec& b : n.saved) row.activation_bytes += bytes_of(b.shape, b.dtype);
    if (n.absorbed_by >= 0) {
      row.memory_note = "fused";
    } else if (n.layer->aliasing() == Aliasing::View) {
      row.memory_note = "view";
    } else if (!owns) {
      row.memory_note = "in place";
    }
    s.total_params += row.params;
    s.frozen_params += row.frozen_params;
    s.multiply_adds += row.multiply_adds;
    s.activation_bytes += row.activation_bytes;
    s.layers.push_back(std::move(row));
  }
  std::vector<bool> grad_counted(blocks_.size(), false);
  for (const Value& v : values_) {
    if (v.grad_block < 0 || grad_counted[static_cast<size_t>(v.grad_block)]) continue;
    grad_counted[static_cast<size_t>(v.grad_block)] = true;
    s.activation_grad_bytes += blocks_[static_cast<size_t>(v.grad_block)].bytes;
  }
  for (const Node& n : nodes_)
    for (int block : n.scratch_blocks)
      if (block >= 0) s.activation_grad_bytes += blocks_[static_cast<size_t>(block)].bytes;
  for (const StateInfo& st : states_)
    if (!st.frozen_parameter) s.buffer_elements += st.shape.numel();
  s.arena_bytes = plan_.arena_bytes;
  s.param_bytes = flat_numel_ * static_cast<int64_t>(sizeof(float));
  s.gradient_bytes = s.param_bytes;
  s.state_bytes = state_bytes_;
  return s;
}

}  // namespace kestrel::nn
