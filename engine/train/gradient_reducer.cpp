#include "engine/train/gradient_reducer.hpp"

#include <algorithm>

#include "kernels/common/error.hpp"

namespace kestrel::train {

std::vector<GradientBucket> plan_gradient_buckets(const std::vector<nn::ParamInfo>& params,
                                                  int64_t flat_numel, int64_t bucket_elements) {
  KESTREL_CHECK(bucket_elements >= 1, "gradient buckets must hold at least one element, got {}",
                bucket_elements);
  // Each layer's span of the buffer, from its first parameter to the end of its last.
  struct LayerSpan {
    int layer;
    int64_t begin, end;
  };
  std::vector<LayerSpan> layers;
  for (const nn::ParamInfo& p : params) {
    const int64_t end = p.offset + p.shape.numel();
    if (!layers.empty() && layers.back().layer == p.layer) {
      layers.back().end = std::max(layers.back().end, end);
    } else {
      KESTREL_CHECK(
          layers.empty() || (p.layer > layers.back().layer && p.offset >= layers.back().end),
          "gradient buckets: parameter {} is out of layer order", p.name);
      layers.push_back({p.layer, p.offset, end});
    }
  }
  KESTREL_CHECK(layers.empty() || (layers.front().begin == 0 && layers.back().end <= flat_numel),
                "gradient buckets: parameters do not lie in [0, {})", flat_numel);

  std::vector<GradientBucket> buckets;
  int64_t held = 0;
  for (auto it = layers.rbegin(); it != layers.rend(); ++it) {
    if (held == 0) buckets.push_back({0, 0, it->layer, it->layer});
    buckets.back().first_layer = it->layer;
    buckets.back().begin = it->begin;
    held += it->end - it->begin;
    if (held >= bucket_elements) held = 0;
  }
  // Each bucket ends where the one before it (higher layers) begins; the first at the end.
  int64_t end = flat_numel;
  for (GradientBucket& b : buckets) {
    b.end = end;
    end = b.begin;
  }
  return buckets;
}

GradientReducer::GradientReducer(dist::Communicator& comm, nn::Graph& graph, int64_t bucket_bytes)
    : comm_(comm), grads_(graph.gradients()) {
  KESTREL_CHECK(bucket_bytes > 0, "--dist-bucket-mb must be positive, got {} bytes", bucket_bytes);
  const int64_t elements = std::max<int64_t>(1, bucket_bytes / static_cast<int64_t>(sizeof(float)));
  buckets_ = plan_gradient_buckets(graph.parameter_infos(), grads_.numel(), elements);
  hook_ = [this](int layer) { after_layer(layer); };
}

void GradientReducer::after_layer(int layer) {
  float* grads = grads_.data<float>();
  while (next_ < buckets_.size() && buckets_[next_].first_layer >= layer) {
    const GradientBucket& b = buckets_[next_++];
    comm_.start_all_reduce_sum(grads + b.begin, b.end - b.begin);
  }
  comm_.progress();
}

void GradientReducer::start_without_rows() {
  grads_.fill(0.0f);
  after_layer(0);
}

void GradientReducer::finish() {
  KESTREL_CHECK(next_ == buckets_.size(),
                "gradient reducer: {} of {} buckets were started; backward did not reach every "
                "layer",
                next_, buckets_.size());
  comm_.finish_all_reduces();
  next_ = 0;
}

}  // namespace kestrel::train
