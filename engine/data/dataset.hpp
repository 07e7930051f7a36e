#pragma once
// An image-classification data set held in memory as raw bytes: the form kestrel keeps on the
// training device (MNIST is 47 MB, CIFAR-10 150 MB), turned into float batches by the
// batch-assembly kernel. Readers produce it on the host; the loader moves it to the device.
#include <cstdint>
#include <string>
#include <vector>

#include "engine/tensor/tensor.hpp"

namespace kestrel::data {

struct ImageDataset {
  std::string name;                      // "mnist-train", "cifar10-test", "synthetic", ...
  Tensor images;                         // u8 [N, C, H, W], planar (CHW per image)
  Tensor labels;                         // i32 [N], each in [0, classes)
  int classes = 0;
  std::vector<std::string> class_names;  // classes entries

  int64_t size() const { return images.defined() ? images.dim(0) : 0; }
  int64_t channels() const { return images.dim(1); }
  int64_t height() const { return images.dim(2); }
  int64_t width() const { return images.dim(3); }
};

}  // namespace kestrel::data
