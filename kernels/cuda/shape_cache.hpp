#pragma once
// A per-thread cache of library objects (cuDNN descriptors, cuBLASLt matmul plans) keyed by
// the integers that describe a problem (sizes, dtype, flags). The first call for a key builds
// its value; every later call finds it without allocating, so a training step asks the host
// for nothing per call. Each thread (one per GPU under `train --gpus`) owns its cache, so the
// values may be changed per call (a bias pointer, a math type) without locks. Plain C++ (no
// library types), unit-tested without a GPU.
#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <unordered_map>

namespace kestrel::cuda {

template <size_t N>
struct ShapeKeyHash {
  size_t operator()(const std::array<int64_t, N>& key) const {
    uint64_t h = 1469598103934665603ull;  // FNV-1a over the words
    for (int64_t v : key) h = (h ^ static_cast<uint64_t>(v)) * 1099511628211ull;
    return static_cast<size_t>(h);
  }
};

template <class Value, size_t N>
class ShapeCache {
 public:
  using Key = std::array<int64_t, N>;

  // The value for `key`, built by make() (returning std::unique_ptr<Value>) on the first call.
  // A make() that throws leaves the cache as it was, so the next call tries again.
  template <class Make>
  Value& get(const Key& key, Make&& make) {
    auto it = map_.find(key);
    if (it == map_.end()) it = map_.emplace(key, make()).first;
    return *it->second;
  }
  size_t size() const { return map_.size(); }

 private:
  std::unordered_map<Key, std::unique_ptr<Value>, ShapeKeyHash<N>> map_;
};

}  // namespace kestrel::cuda
