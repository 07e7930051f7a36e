// Graph planning: shapes, the parameter and state layout, and the memory plan (aliasing,
// absorption, lifetimes, the arena). The rules are in graph.hpp.
#include <fmt/format.h>

#include <algorithm>
#include <numeric>

#include "engine/nn/graph.hpp"
#include "kernels/common/error.hpp"

namespace kestrel::nn {

namespace {

int64_t bytes_of(const Shape& s, DType dtype) {
  return s.numel() * static_cast<int64_t>(dtype_size(dtype));
}

int64_t align_up(int64_t n, int64_t alignment) {
  return (n + alignment - 1) / alignment * alignment;
}

constexpr int64_t kStateAlignment = 256;  // bytes, as the arena

}  // namespace

// Every layer's setup, in node order; an error names the layer it happened in.
void Graph::infer_shapes(const Shape& input_chw, int64_t batch, int64_t classes) {
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
  values_.assign(nodes_.size() + 1, Value());
  values_[0].shape = Shape::from(dims, input_chw.ndim() + 1);

  for (size_t i = 0; i < nodes_.size(); ++i) {
    Node& n = nodes_[i];
    n.layer->set_index(static_cast<int>(i));
    n.input_shapes.clear();
    for (size_t slot = 0; slot < n.inputs.size(); ++slot) {
      Value& in = values_[static_cast<size_t>(n.inputs[slot])];
      n.input_shapes.push_back(in.shape);
      in.readers.emplace_back(static_cast<int>(i), static_cast<int>(slot));
    }
    try {
      n.output = n.layer->setup_inputs(n.input_shapes);
      n.multiply_adds = n.layer->multiply_adds_inputs(n.input_shapes);
    } catch (const Error& e) {
      std::string shapes;
      for (const Shape& s : n.input_shapes) shapes += (shapes.empty() ? "" : " and ") + s.str();
      KESTREL_FAIL("layer {} ({}) on input {}: {}", n.layer->name(), n.layer->type(), shapes,
                   e.message().empty() ? e.what() : e.message());
    }
    KESTREL_CHECK(n.output.ndim() >= 1 && n.output[0] == batch,
                  "graph: layer {} ({}) gives {}, which does not keep the batch of {} first",
                  n.layer->name(), n.layer->type(), n.output.str(), batch);
    Value& out = values_[i + 1];
    out.shape = n.output;
    out.producer = static_cast<int>(i);
  }
  for (size_t v = 1; v + 1 < values_.size(); ++v) {
    const Layer& l = *nodes_[v - 1].layer;
    KESTREL_CHECK(!values_[v].readers.empty(),
                  "graph: the output of layer {} ({}) is never read (only the last layer's "
                  "output may end the graph)",
                  l.name(), l.type());
  }
  const Node& last = nodes_.back();
  KESTREL_CHECK(last.output == (Shape{batch, classes}),
                "graph: the last layer {} ({}) gives {}, expected [{}, {}] for {} classes",
                last.layer->name(), last.layer->type(), last.output.str(), batch, classes, classes);
}

// Trainable parameters in state_dict order, each at an aligned offset of the flat buffers;
// buffers and frozen parameters in the state store. Which values need a gradient follows.
void Graph::lay_out_parameters_and_state() {
  params_.clear();
  states_.clear();
  std::set<std::string> unused_frozen = frozen_;
  std::set<std::string> names;  // unique: a layer's scope may differ from its (unique) name
  int64_t offset = 0, state_offset = 0;
  for (size_t i = 0; i < nodes_.size(); ++i) {
    Node& n = nodes_[i];
    n.params.clear();
    n.states.clear();
    n.param_slots.clear();
    // The scheme draws one weight and its bias per node (Graph::initialize); parameters with a
    // fixed start (attention's two projections) are not limited.
    int scheme_weights = 0, scheme_biases = 0;
    for (const ParamSpec& p : n.layer->params()) {
      if (p.init == ParamInit::Scheme || p.init == ParamInit::PartialDirac)
        (p.kind == ParamKind::Weight ? scheme_weights : scheme_biases) += 1;
      KESTREL_CHECK(p.init != ParamInit::PatchWhitening || n.inputs == std::vector<ValueId>{0},
                    "graph: {} starts from a whitening of the input images, so layer {} must "
                    "read the graph's input",
                    qualified_name(n.layer->param_scope(), p.name), n.layer->name());
      const std::string name = qualified_name(n.layer->param_scope(), p.name);
      KESTREL_CHECK(names.insert(name).second,
                    "graph: two parameters or buffers named '{}' (layer {})", name,
                    n.layer->name());
      if (unused_frozen.erase(name) > 0) {
        n.param_slots.push_back({true, static_cast<int>(states_.size())});
        n.states.push_back(static_cast<int>(states_.size()));
        states_.push_back({name, p.shape, DType::F32, state_offset, static_cast<int>(i), true});
        state_offset = align_up(state_offset + bytes_of(p.shape, DType::F32), kStateAlignment);
        continue;
      }
      n.param_slots.push_back({false, static_cast<int>(params_.size())});
      n.params.push_back(static_cast<int>(params_.size()));
      params_.push_back({name, p.shape, offset, static_cast<int>(i), p.kind});
      offset = align_up(offset + p.shape.numel(), kParamAlignment);
    }
    KESTREL_CHECK(scheme_weights <= 1,
                  "graph: layer {} starts {} weights by the initialisation scheme (at most one, "
                  "with its bias)",
                  n.layer->name(), scheme_weights);
    KESTREL_CHECK(scheme_biases <= scheme_weights,
                  "graph: layer {} starts its bias by the initialisation scheme but not its "
                  "weight (a scheme draws the bias from the weight's fans)",
                  n.layer->name());
    for (const StateSpec& s : n.layer->state()) {
      KESTREL_CHECK(s.dtype == DType::F32 || s.dtype == DType::I64,
                    "graph: layer {} declares state {} of dtype {} (f32 or i64 only)",
                    n.layer->name(), s.name, dtype_name(s.dtype));
      n.states.push_back(static_cast<int>(states_.size()));
      const std::string name = qualified_name(n.layer->param_scope(), s.name);
      KESTREL_CHECK(names.insert(name).second,
                    "graph: two parameters or buffers named '{}' (layer {})", name,
                    n.layer->name());
      states_.push_back({name, s.shape, s.dtype, state_offset, static_cast<int>(i), false});
      state_offset = align_up(state_offset + bytes_of(s.shape, s.dtype), kStateAlignment);
    }
    n.saved = n.layer->saved();
  }
  KESTREL_CHECK(unused_frozen.empty(), "graph: cannot freeze {}: no layer has that parameter",
                *unused_frozen.begin());
  flat_numel_ = offset;
  state_bytes_ = state_offset;

  // A value needs a gradient when it depends on a trainable parameter; a node runs backward
  // when it has one or reads such a value.
  values_[0].needs_grad = false;
  for (size_t i = 0; i < nodes_.size(); ++i) {
    Node& n = nodes_[i];
    bool needs = !n.params.empty();
    for (ValueId v : n.inputs) needs = needs || values_[static_cast<size_t>(v)].needs_grad;
    n.runs_backward = needs;
    values_[i + 1].needs_grad = needs;
  }
}

namespace {

// Union-find over values: which values share one block of memory.
struct Groups {
  std::vector<int> parent;
  explicit Groups(size_t n) : parent(n) { std::iota(parent.begin(), parent.end(), 0); }
  int find(int v) {
    while (parent[static_cast<size_t>(v)] != v) {
      parent[static_cast<size_t>(v)] = parent[static_cast<size_t>(parent[static_cast<size_t>(v)])];
      v = parent[static_cast<size_t>(v)];
    }
    return v;
  }
  // b's group joins a's (a's root stays the root).
  void join(int a, int b) { parent[static_cast<size_t>(find(b))] = find(a); }
};

}  // namespace

// Aliasing, absorption, lifetimes and the arena plan (see graph.hpp).
void Graph::plan_memory_blocks() {
  const int count = size();
  const int end = 2 * count;  // after the last backward step
  const auto fwd = [](int node) { return node; };
  const auto bwd = [count](int node) { return 2 * count - 1 - node; };
  const ValueId output = last_value();

  Groups act(values_.size()), grad(values_.size());
  // The steps at which a value's memory is read, excluding its readers' forward passes.
  const auto read_in_backward = [&](ValueId v) {
    const Value& val = values_[static_cast<size_t>(v)];
    if (val.producer >= 0) {
      const Node& p = nodes_[static_cast<size_t>(val.producer)];
      if (p.runs_backward && p.layer->backward_needs_output()) return true;
    }
    for (const auto& [reader, slot] : val.readers) {
      (void)slot;
      const Node& r = nodes_[static_cast<size_t>(reader)];
      if (r.runs_backward && r.layer->backward_needs_input()) return true;
    }
    return false;
  };
  // Whether node n may overwrite the memory of every value sharing its input 0's memory.
  const auto may_overwrite = [&](int n) {
    const Node& node = nodes_[static_cast<size_t>(n)];
    const ValueId x = node.inputs[0];
    if (act.find(x) == act.find(kInput)) return false;  // the caller's images
    if (values_[static_cast<size_t>(x)].readers.size() != 1) return false;
    if (node.runs_backward && node.layer->backward_needs_input()) return false;
    const int root = act.find(x);
    for (ValueId u = 1; u < static_cast<ValueId>(values_.size()); ++u) {
      if (act.find(u) != root) continue;
      if (read_in_backward(u)) return false;
      for (const auto& [reader, slot] : values_[static_cast<size_t>(u)].readers) {
        (void)slot;
        if (reader > n || (reader == n && u != x)) return false;
      }
    }
    return true;
  };

  for (int i = 0; i < count; ++i) {
    Node& n = nodes_[static_cast<size_t>(i)];
    const ValueId x = n.inputs[0], y = i + 1;
    const Value& xv = values_[static_cast<size_t>(x)];
    n.in_place = false;
    n.absorbed_by = -1;
    const Aliasing a = n.layer->aliasing();
    if (a == Aliasing::View || (a == Aliasing::InPlace && may_overwrite(i))) {
      act.join(x, y);
      n.in_place = a == Aliasing::InPlace;
      if (xv.needs_grad && xv.readers.size() == 1 && y != output) grad.join(x, y);
    }
  }
  // A layer may absorb the one that runs in place on its output.
  for (int i = 0; i < count; ++i) {
    const Value& out = values_[static_cast<size_t>(i + 1)];
    Layer* next = nullptr;
    int next_node = -1;
    if (out.readers.size() == 1) {
      next_node = out.readers[0].first;
      if (nodes_[static_cast<size_t>(next_node)].in_place)
        next = nodes_[static_cast<size_t>(next_node)].layer.get();
    }
    if (nodes_[static_cast<size_t>(i)].layer->absorb(next) && next != nullptr)
      nodes_[static_cast<size_t>(next_node)].absorbed_by = i;
  }

  // Blocks: one per activation group (the images' group has none), one per gradient group,
  // one per saved tensor, one per gradient scratch.
  blocks_.clear();
  std::vector<int> act_block(values_.size(), -1), grad_block(values_.size(), -1);
  const auto extend = [&](int block, int64_t bytes, int first, int last) {
    MemoryBlock& b = blocks_[static_cast<size_t>(block)];
    b.bytes = std::max(b.bytes, bytes);
    b.first = std::min(b.first, first);
    b.last = std::max(b.last, last);
  };
  const auto new_block = [&](BlockKind kind, int64_t bytes, int first, int last) {
    blocks_.push_back({bytes, first, last, kind});
    return static_cast<int>(blocks_.size()) - 1;
  };
  for (ValueId v = 1; v < static_cast<ValueId>(values_.size()); ++v) {
    Value& val = values_[static_cast<size_t>(v)];
    const int root = act.find(v);
    if (root == act.find(kInput)) {
      val.block = -1;
    } else {
      int last = fwd(val.producer);
      for (const auto& [reader, slot] : val.readers) {
        (void)slot;
        last = std::max(last, fwd(reader));
        const Node& r = nodes_[static_cast<size_t>(reader)];
        if (r.runs_backward && r.layer->backward_needs_input()) last = std::max(last, bwd(reader));
      }
      const Node& p = nodes_[static_cast<size_t>(val.producer)];
      if (p.runs_backward && p.layer->backward_needs_output())
        last = std::max(last, bwd(val.producer));
      if (v == output || keep_activations_) last = end;
      const int64_t bytes = bytes_of(val.shape, DType::F32);
      int& block = act_block[static_cast<size_t>(root)];
      if (block < 0) {
        block = new_block(BlockKind::Activation, bytes, fwd(val.producer), last);
      } else {
        extend(block, bytes, fwd(val.producer), last);
      }
      val.block = block;
    }
    val.grad_block = -1;
    if (val.needs_grad && v != output) {
      int last_reader = 0;
      for (const auto& [reader, slot] : val.readers) last_reader = std::max(last_reader, reader);
      int& block = grad_block[static_cast<size_t>(grad.find(v))];
      const int64_t bytes = bytes_of(val.shape, DType::F32);
      if (block < 0) {
        block = new_block(BlockKind::Gradient, bytes, bwd(last_reader), bwd(val.producer));
      } else {
        extend(block, bytes, bwd(last_reader), bwd(val.producer));
      }
      val.grad_block = block;
    }
  }
  for (int i = 0; i < count; ++i) {
    Node& n = nodes_[static_cast<size_t>(i)];
    n.saved_blocks.clear();
    for (const SavedSpec& s : n.saved)
      n.saved_blocks.push_back(new_block(BlockKind::Saved, bytes_of(s.shape, s.dtype),
                                         s.backward_only ? bwd(i) : fwd(i),
                                         n.runs_backward || s.backward_only ? bwd(i) : fwd(i)));
    // The first gradient contribution to a value comes from its last reader's lowest slot
    // that reads it; every other one goes through scratch.
    n.scratch_blocks.assign(n.inputs.size(), -1);
    if (!n.runs_backward) continue;
    for (size_t slot = 0; slot < n.inputs.size(); ++slot) {
      const Value& x = values_[static_cast<size_t>(n.inputs[slot])];
      if (!x.needs_grad) continue;
      const auto& [first_node, first_slot] =
          *std::max_element(x.readers.begin(), x.readers.end(), [](const auto& a, const auto& b) {
            return a.first != b.first ? a.first < b.first : a.second > b.second;
          });
      if (first_node == i && first_slot == static_cast<int>(slot)) continue;
      n.scratch_blocks[slot] =
          new_block(BlockKind::Scratch, bytes_of(x.shape, DType::F32), bwd(i), bwd(i));
    }
  }
  plan_ = plan_memory(blocks_, kArenaAlignment);
}

}  // namespace kestrel::nn
