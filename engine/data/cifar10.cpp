#include "engine/data/cifar10.hpp"

#include <cstring>
#include <filesystem>

#include "kernels/common/error.hpp"

namespace kestrel::data {

std::vector<std::string> cifar10_split_files(std::string_view split) {
  if (split == "train") {
    return {"data_batch_1.bin", "data_batch_2.bin", "data_batch_3.bin", "data_batch_4.bin",
            "data_batch_5.bin"};
  }
  if (split == "test") return {"test_batch.bin"};
  KESTREL_FAIL("unknown split '{}': expected train or test", split);
}

ImageDataset load_cifar10(const std::string& dir, std::string_view split,
                          int64_t records_per_file) {
  KESTREL_CHECK(records_per_file > 0, "load_cifar10: records_per_file must be positive, got {}",
                records_per_file);
  const std::vector<std::string> files = cifar10_split_files(split);
  const int64_t total = records_per_file * static_cast<int64_t>(files.size());

  ImageDataset dataset;
  dataset.name = fmt::format("cifar10-{}", split);
  dataset.class_names = cifar10_class_names(dir);
  dataset.classes = kCifar10Classes;
  dataset.images = Tensor::empty(Shape{total, 3, 32, 32}, DType::U8);
  dataset.labels = Tensor::empty(Shape{total}, DType::I32);
  uint8_t* images = dataset.images.data<uint8_t>();
  int32_t* labels = dataset.labels.data<int32_t>();
  for (size_t f = 0; f < files.size(); ++f) {
    const std::string path = (std::filesystem::path(dir) / files[f]).string();
    const CifarBatch batch = read_cifar_batch(path, records_per_file);
    const int64_t first = static_cast<int64_t>(f) * records_per_file;
    std::memcpy(images + first * kCifarImageBytes, batch.images.data(), batch.images.size());
    std::memcpy(labels + first, batch.labels.data(), batch.labels.size() * sizeof(int32_t));
  }
  return dataset;
}

}  // namespace kestrel::data
