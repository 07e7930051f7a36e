#pragma once
// What the graph tests share: the parameters and gradients packed in state_dict order as the
// float64 references take them, one training step, exact comparison and error capture.
#include <cstring>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "engine/nn/graph.hpp"
#include "engine/ops/cross_entropy.hpp"
#include "kernels/common/error.hpp"
#include "tests/engine/graph_reference.hpp"
#include "tests/support/compare.hpp"
#include "tests/support/random.hpp"

namespace kestrel::test {

// The graph's trainable parameters (padding left out) in state_dict order, as doubles.
inline std::vector<double> packed_parameters(const nn::Graph& g) {
  std::vector<double> out;
  for (const nn::NamedTensor& p : g.named_parameters())
    for (float v : p.tensor.to_vector()) out.push_back(v);
  return out;
}

inline std::vector<float> packed_gradients(const nn::Graph& g) {
  std::vector<float> out;
  for (const nn::NamedTensor& p : g.named_gradients())
    for (float v : p.tensor.to_vector()) out.push_back(v);
  return out;
}

// Where each named parameter starts in packed_parameters().
inline std::map<std::string, size_t> packed_offsets(const nn::Graph& g) {
  std::map<std::string, size_t> out;
  size_t offset = 0;
  for (const nn::ParamInfo& p : g.parameter_infos()) {
    out[p.name] = offset;
    offset += static_cast<size_t>(p.shape.numel());
  }
  return out;
}

inline Act to_act(const Tensor& images) {
  return Act{to_double(images), images.dim(0), images.dim(1), images.dim(2), images.dim(3)};
}

// One training step: forward, cross-entropy (its gradient written over the logits), backward.
inline float loss_and_gradients(const Context& ctx, nn::Graph& g, const Tensor& images,
                                const Tensor& labels, int64_t step) {
  Tensor logits = g.forward(ctx, images, /*training=*/true, step);
  const float loss = ops::cross_entropy_forward_backward(ctx, logits, labels, &logits);
  g.backward(ctx, logits);
  return loss;
}

inline bool bitwise_equal(const Tensor& a, const Tensor& b) {
  return a.shape() == b.shape() && a.dtype() == b.dtype() &&
         std::memcmp(a.raw_data(), b.raw_data(), a.nbytes()) == 0;
}

inline std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "no error";
}

}  // namespace kestrel::test
