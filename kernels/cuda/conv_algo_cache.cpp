#include "kernels/cuda/conv_algo_cache.hpp"

namespace kestrel::cuda {

namespace {

// The fields of a key as one list of integers, for equality and hashing alike.
constexpr int kKeyFields = 19;
void key_fields(const ConvAlgoKey& k, int64_t (&f)[kKeyFields]) {
  const auto& g = k.geometry;
  const int64_t values[kKeyFields] = {k.device,
                                      static_cast<int64_t>(k.direction),
                                      g.n,
                                      g.c,
                                      g.h,
                                      g.w,
                                      g.k,
                                      g.r,
                                      g.s,
                                      g.oh,
                                      g.ow,
                                      g.stride_h,
                                      g.stride_w,
                                      g.pad_h,
                                      g.pad_w,
                                      g.dilation_h,
                                      g.dilation_w,
                                      g.groups,
                                      (k.channels_last ? 8 : 0) | (k.bf16 ? 4 : 0) | (k.tf32 ? 2 : 0) |
                                          (k.deterministic ? 1 : 0)};
  for (int i = 0; i < kKeyFields; ++i) f[i] = values[i];
}

}  // namespace

bool operator==(const ConvAlgoKey& a, const ConvAlgoKey& b) {
  int64_t fa[kKeyFields], fb[kKeyFields];
  key_fields(a, fa);
  key_fields(b, fb);
  for (int i = 0; i < kKeyFields; ++i)
    if (fa[i] != fb[i]) return false;
  return true;
}

size_t ConvAlgoKeyHash::operator()(const ConvAlgoKey& k) const {
  int64_t f[kKeyFields];
  key_fields(k, f);
  // FNV-1a over the fields' bytes.
  uint64_t h = 1469598103934665603ull;
  for (int64_t v : f) {
    for (int byte = 0; byte < 8; ++byte) {
      h ^= static_cast<uint64_t>(v >> (8 * byte)) & 0xffu;
      h *= 1099511628211ull;
    }
  }
  return static_cast<size_t>(h);
}

std::optional<ConvAlgoChoice> ConvAlgoCache::find(const ConvAlgoKey& key) const {
  std::lock_guard lock(mutex_);
  const auto it = map_.find(key);
  if (it == map_.end()) return std::nullopt;
  return it->second;
}

void ConvAlgoCache::insert(const ConvAlgoKey& key, const ConvAlgoChoice& choice) {
  std::lock_guard lock(mutex_);
  map_[key] = choice;
}

size_t ConvAlgoCache::size() const {
  std::lock_guard lock(mutex_);
  return map_.size();
}

void ConvAlgoCache::clear() {
  std::lock_guard lock(mutex_);
  map_.clear();
}

ConvAlgoCache& conv_algo_cache() {
  static ConvAlgoCache cache;
  return cache;
}

}  // namespace kestrel::cuda
