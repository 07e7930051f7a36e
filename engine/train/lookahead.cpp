#include "engine/train/lookahead.hpp"

#include <cmath>

#include "engine/ops/dispatch.hpp"
#include "engine/runtime/nvtx.hpp"
#include "kernels/common/error.hpp"
#include "kernels/common/lookahead.hpp"

namespace kestrel::train {

namespace {

// The buffers the slow copy covers: f32 state that is not a frozen parameter.
bool averaged_buffer(const nn::StateInfo& s) { return s.dtype == DType::F32 && !s.frozen_parameter; }

}  // namespace

Lookahead::Lookahead(double decay, int64_t every) : decay_(decay), every_(every) {
  KESTREL_CHECK(decay > 0.0 && decay < 1.0, "--lookahead must be in (0, 1), got {}", decay);
  KESTREL_CHECK(every >= 1, "--lookahead-every must be at least 1, got {}", every);
}

double Lookahead::decay_at(double decay, int64_t every, int64_t n, int64_t total) {
  const double progress = static_cast<double>(n) / static_cast<double>(total);
  return std::pow(decay, static_cast<double>(every)) * progress * progress * progress;
}

std::vector<Tensor> Lookahead::live_tensors(nn::Graph& graph) const {
  std::vector<Tensor> live{graph.parameters()};
  const std::vector<nn::NamedTensor> state = graph.named_state();
  const std::vector<nn::StateInfo>& infos = graph.state_infos();
  for (size_t i = 0; i < infos.size(); ++i)
    if (averaged_buffer(infos[i])) live.push_back(state[i].tensor);
  return live;
}

void Lookahead::start(const Context& ctx, nn::Graph& graph) {
  const std::vector<Tensor> live = live_tensors(graph);
  slow_params_ = Tensor::empty(live[0].shape(), DType::F32, ctx.device());
  slow_params_.copy_from(live[0]);
  slow_buffers_.clear();
  for (size_t i = 1; i < live.size(); ++i) {
    slow_buffers_.push_back(Tensor::empty(live[i].shape(), DType::F32, ctx.device()));
    slow_buffers_.back().copy_from(live[i]);
  }
}

void Lookahead::pull(const Context& ctx, nn::Graph& graph, float weight, const int32_t* skip) {
  NvtxRange range("lookahead");
  KESTREL_CHECK(slow_params_.defined(), "lookahead: update before start");
  // On the CPU the halt flag is host memory: read it here, as the optimizer does.
  if (!ctx.is_cuda() && skip != nullptr) {
    if (*skip != 0) return;
    skip = nullptr;
  }
  std::vector<Tensor> live = live_tensors(graph);
  KESTREL_CHECK(live.size() == slow_buffers_.size() + 1 &&
                    live[0].numel() == slow_params_.numel(),
                "lookahead: the graph changed since start");
  for (size_t i = 0; i < live.size(); ++i) {
    Tensor& slow = i == 0 ? slow_params_ : slow_buffers_[i - 1];
    ops::detail::launch_elementwise(
        ctx, slow.numel(),
        kernels::LookaheadPull{slow.data<float>(), live[i].data<float>(), weight, skip});
  }
}

void Lookahead::after_step(const Context& ctx, nn::Graph& graph, int64_t n, int64_t total,
                           const int32_t* skip) {
  if (n % every_ != 0) return;
  pull(ctx, graph, static_cast<float>(1.0 - decay_at(decay_, every_, n, total)), skip);
}

void Lookahead::finish(const Context& ctx, nn::Graph& graph) { pull(ctx, graph, 0.0f, nullptr); }

std::vector<nn::NamedTensor> Lookahead::slow_tensors(const nn::Graph& graph) const {
  KESTREL_CHECK(slow_params_.defined(), "lookahead: no slow weights before start");
  std::vector<nn::NamedTensor> out;
  for (const nn::ParamInfo& p : graph.parameter_infos())
    out.push_back({p.name, slow_params_.sub(p.offset, p.shape)});
  size_t b = 0;
  for (const nn::StateInfo& s : graph.state_infos())
    if (averaged_buffer(s)) out.push_back({s.name, slow_buffers_[b++]});
  return out;
}

}  // namespace kestrel::train
