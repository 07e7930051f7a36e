#pragma once
// Data sets by name, as the CLI names them: where each lives under the data folder, how to
// fetch it when it is missing, and its normalisation statistics.
//
//   mnist          data_dir/mnist                  IDX files, raw or .gz
//   fashion-mnist  data_dir/fashion-mnist          IDX files, raw or .gz
//   cifar10        data_dir/cifar-10-batches-bin   the binary version's .bin batches
//   synthetic      (generated)                     1 x 28 x 28, 10 classes, 6,000 + 1,000
#include <string>
#include <string_view>
#include <vector>

#include "engine/data/dataset.hpp"
#include "engine/data/normalization.hpp"

namespace kestrel::data {

// "mnist", "fashion-mnist", "cifar10", "synthetic".
std::vector<std::string> dataset_names();

// A split ("train" or "test") of a named data set. A missing folder or file throws
// kestrel::Error saying how to get it, e.g.
// "MNIST not found in data/mnist: run scripts/fetch-data.sh mnist".
ImageDataset load_dataset(std::string_view name, std::string_view split,
                          const std::string& data_dir);

// What a data set's images and classes are, without reading its files: for models and
// predictions when the data is not at hand. Throws kestrel::Error for an unknown name.
struct DatasetInfo {
  int64_t channels = 0, height = 0, width = 0;
  int classes = 0;
  std::vector<std::string> class_names;  // classes entries, as load_dataset names them
};
DatasetInfo dataset_info(std::string_view name);

// Per-channel statistics of the training images scaled to [0, 1] (the usual published values):
// a batch is normalised as (x / 255 - mean) / std.
Normalization dataset_normalization(std::string_view name);
// mean = std = 0.5 per channel: maps [0, 1] to [-1, 1] (the lab's convention).
Normalization lab_normalization(int channels);

// The synthetic data set's shape and sizes.
inline constexpr int kSyntheticChannels = 1;
inline constexpr int kSyntheticSide = 28;
inline constexpr int kSyntheticClasses = 10;
inline constexpr int64_t kSyntheticTrainSize = 6000;
inline constexpr int64_t kSyntheticTestSize = 1000;
inline constexpr uint64_t kSyntheticSeed = 0;

}  // namespace kestrel::data
