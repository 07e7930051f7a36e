#include "engine/data/registry.hpp"

#include <fmt/ranges.h>

#include <filesystem>

#include "engine/data/cifar10.hpp"
#include "engine/data/mnist.hpp"
#include "engine/data/synthetic.hpp"
#include "kernels/common/error.hpp"

namespace kestrel::data {
namespace {

struct FileDataset {
  std::string_view name;     // as the CLI spells it, and the fetch script's argument
  std::string_view title;    // as people write it
  std::string_view folder;   // under the data folder
};

constexpr FileDataset kFileDatasets[] = {
    {"mnist", "MNIST", "mnist"},
    {"fashion-mnist", "Fashion-MNIST", "fashion-mnist"},
    {"cifar10", "CIFAR-10", "cifar-10-batches-bin"},
};

void check_split(std::string_view split) {
  KESTREL_CHECK(split == "train" || split == "test", "unknown split '{}': expected train or test",
                split);
}

[[noreturn]] void fail_unknown(std::string_view name) {
  KESTREL_FAIL("unknown data set '{}': expected one of {}", name,
               fmt::join(dataset_names(), ", "));
}

// The files a split needs, as the loaders will look for them (IDX files also as .gz).
std::vector<std::string> missing_files(const FileDataset& dataset, const std::string& dir,
                                       std::string_view split) {
  std::vector<std::string> missing;
  if (dataset.name == "cifar10") {
    for (const std::string& file : cifar10_split_files(split)) {
      if (!std::filesystem::exists(std::filesystem::path(dir) / file)) missing.push_back(file);
    }
  } else {
    const std::string prefix = split == "train" ? "train" : "t10k";
    for (const std::string& base : {prefix + "-images-idx3-ubyte", prefix + "-labels-idx1-ubyte"}) {
      if (find_idx_file(dir, base).empty()) missing.push_back(base + "[.gz]");
    }
  }
  return missing;
}

}  // namespace

std::vector<std::string> dataset_names() {
  return {"mnist", "fashion-mnist", "cifar10", "synthetic"};
}

ImageDataset load_dataset(std::string_view name, std::string_view split,
                          const std::string& data_dir) {
  check_split(split);
  if (name == "synthetic") {
    const bool train = split == "train";
    ImageDataset dataset = make_synthetic(
        train ? kSyntheticTrainSize : kSyntheticTestSize, kSyntheticChannels, kSyntheticSide,
        kSyntheticSide, kSyntheticClasses, kSyntheticSeed, train ? 0 : kSyntheticTrainSize);
    dataset.name = fmt::format("synthetic-{}", split);
    return dataset;
  }
  for (const FileDataset& dataset : kFileDatasets) {
    if (dataset.name != name) continue;
    const std::string dir = (std::filesystem::path(data_dir) / dataset.folder).string();
    const std::string fetch = fmt::format("run scripts/fetch-data.sh {}", dataset.name);
    KESTREL_CHECK(std::filesystem::is_directory(dir), "{} not found in {}: {}", dataset.title,
                  dir, fetch);
    const std::vector<std::string> missing = missing_files(dataset, dir, split);
    KESTREL_CHECK(missing.empty(), "{} not found in {} (missing {}): {}", dataset.title, dir,
                  fmt::join(missing, ", "), fetch);
    if (dataset.name == "cifar10") return load_cifar10(dir, split);
    return load_mnist_like(dir, split, dataset.name,
                           dataset.name == "mnist" ? mnist_class_names()
                                                   : fashion_mnist_class_names());
  }
  fail_unknown(name);
}

DatasetInfo dataset_info(std::string_view name) {
  if (name == "mnist") return {1, 28, 28, 10, mnist_class_names()};
  if (name == "fashion-mnist") return {1, 28, 28, 10, fashion_mnist_class_names()};
  if (name == "cifar10") return {3, 32, 32, 10, cifar10_builtin_class_names()};
  if (name == "synthetic") {
    DatasetInfo info{kSyntheticChannels, kSyntheticSide, kSyntheticSide, kSyntheticClasses, {}};
    for (int k = 0; k < kSyntheticClasses; ++k) info.class_names.push_back(std::to_string(k));
    return info;
  }
  fail_unknown(name);
}

Normalization dataset_normalization(std::string_view name) {
  if (name == "mnist") return {{0.1307f}, {0.3081f}};
  if (name == "fashion-mnist") return {{0.2860f}, {0.3530f}};
  if (name == "cifar10") return {{0.4914f, 0.4822f, 0.4465f}, {0.2470f, 0.2435f, 0.2616f}};
  if (name == "synthetic") return lab_normalization(kSyntheticChannels);
  fail_unknown(name);
}

Normalization lab_normalization(int channels) {
  KESTREL_CHECK(channels > 0, "lab_normalization: channels must be positive, got {}", channels);
  const auto n = static_cast<size_t>(channels);
  return {std::vector<float>(n, 0.5f), std::vector<float>(n, 0.5f)};
}

}  // namespace kestrel::data
