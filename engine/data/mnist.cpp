#include "engine/data/mnist.hpp"

#include <cstring>
#include <filesystem>

#include "engine/data/byte_source.hpp"
#include "engine/data/idx_reader.hpp"
#include "kernels/common/error.hpp"

namespace kestrel::data {
namespace {

// The official file names: "train-…" for the training split, "t10k-…" for the test split.
std::string_view file_prefix(std::string_view split) {
  if (split == "train") return "train";
  if (split == "test") return "t10k";
  KESTREL_FAIL("unknown split '{}': expected train or test", split);
}

std::string require_idx_file(const std::string& dir, const std::string& base) {
  std::string path = find_idx_file(dir, base);
  KESTREL_CHECK(!path.empty(), "{}: neither {} nor {}.gz found", dir, base, base);
  return path;
}

}  // namespace

std::string find_idx_file(const std::string& dir, std::string_view base) {
  const std::filesystem::path raw = std::filesystem::path(dir) / base;
  if (std::filesystem::exists(raw)) return raw.string();
  std::filesystem::path gz = raw;
  gz += ".gz";
  if (std::filesystem::exists(gz)) return gz.string();
  return {};
}

ImageDataset load_mnist_like(const std::string& dir, std::string_view split,
                             std::string_view name, const std::vector<std::string>& class_names) {
  const std::string prefix(file_prefix(split));
  const std::string images_path = require_idx_file(dir, prefix + "-images-idx3-ubyte");
  const std::string labels_path = require_idx_file(dir, prefix + "-labels-idx1-ubyte");
  const int classes = static_cast<int>(class_names.size());

  IdxImages images = read_idx_images(images_path);
  std::vector<int32_t> labels = read_idx_labels(labels_path, classes);
  KESTREL_CHECK(static_cast<int64_t>(labels.size()) == images.count,
                "{}: {} images in {} but {} labels in {}", dir, with_thousands(images.count),
                std::filesystem::path(images_path).filename().string(),
                with_thousands(labels.size()),
                std::filesystem::path(labels_path).filename().string());

  ImageDataset dataset;
  dataset.name = fmt::format("{}-{}", name, split);
  dataset.images = Tensor::empty(Shape{images.count, 1, images.rows, images.cols}, DType::U8);
  std::memcpy(dataset.images.raw_data(), images.pixels.data(), images.pixels.size());
  dataset.labels = Tensor::from_vector(Shape{images.count}, std::span<const int32_t>(labels));
  dataset.classes = classes;
  dataset.class_names = class_names;
  return dataset;
}

const std::vector<std::string>& mnist_class_names() {
  static const std::vector<std::string> names = {"0", "1", "2", "3", "4",
                                                 "5", "6", "7", "8", "9"};
  return names;
}

const std::vector<std::string>& fashion_mnist_class_names() {
  static const std::vector<std::string> names = {"T-shirt/top", "Trouser", "Pullover", "Dress",
                                                 "Coat",        "Sandal",  "Shirt",    "Sneaker",
                                                 "Bag",         "Ankle boot"};
  return names;
}

}  // namespace kestrel::data
