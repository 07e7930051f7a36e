#pragma once
// The cache of cuDNN convolution algorithms: autotuning runs once per distinct problem, and
// every later step with that shape reuses the choice. Plain C++ (no cuDNN types), so the key
// and the cache are unit-tested on machines without a GPU.
#include <cstddef>
#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <unordered_map>

#include "kernels/common/conv2d_geometry.hpp"

namespace kestrel::cuda {

enum class ConvDirection : uint8_t { Forward, BackwardData, BackwardFilter };

// Everything that can change which algorithm is best or allowed.
struct ConvAlgoKey {
  int device = 0;
  ConvDirection direction = ConvDirection::Forward;
  kernels::Conv2dGeometry geometry;
  bool tf32 = false;
  bool deterministic = false;
  bool bf16 = false;
  bool channels_last = false;

  friend bool operator==(const ConvAlgoKey& a, const ConvAlgoKey& b);
};

struct ConvAlgoKeyHash {
  size_t operator()(const ConvAlgoKey& k) const;
};

struct ConvAlgoChoice {
  int algorithm = 0;  // the cuDNN enum value for the key's direction
  size_t workspace_bytes = 0;
  float measured_ms = 0.0f;  // what autotuning measured (0 when chosen by heuristics)
  // The cudnnMathType_t it was measured with: the convolution descriptor is set to it before
  // each run, or cuDNN may run another kernel than the one timed (and sized).
  int math_type = 0;
};

class ConvAlgoCache {
 public:
  std::optional<ConvAlgoChoice> find(const ConvAlgoKey& key) const;
  void insert(const ConvAlgoKey& key, const ConvAlgoChoice& choice);
  size_t size() const;
  void clear();

 private:
  mutable std::mutex mutex_;
  std::unordered_map<ConvAlgoKey, ConvAlgoChoice, ConvAlgoKeyHash> map_;
};

// The process-wide cache used by the cuDNN convolutions.
ConvAlgoCache& conv_algo_cache();

}  // namespace kestrel::cuda
