#pragma once
// Per-channel statistics a batch is normalised with: x = (byte / 255 - mean[c]) / std[c],
// torchvision's ToTensor then Normalize. One value applies to every channel; otherwise one per
// channel. The default leaves byte / 255.
#include <vector>

namespace kestrel::data {

struct Normalization {
  std::vector<float> mean{0.0f};
  std::vector<float> std{1.0f};

  static Normalization none() { return {}; }
  // The usual training-set statistics (torchvision examples).
  static Normalization mnist() { return {{0.1307f}, {0.3081f}}; }
  static Normalization cifar10() {
    return {{0.4914f, 0.4822f, 0.4465f}, {0.2470f, 0.2435f, 0.2616f}};
  }
};

}  // namespace kestrel::data
