#pragma once
// MNIST and Fashion-MNIST: four IDX files in one folder, each raw or gzip-compressed
// (train-images-idx3-ubyte[.gz], train-labels-idx1-ubyte[.gz], t10k-images-idx3-ubyte[.gz],
// t10k-labels-idx1-ubyte[.gz]).
#include <string>
#include <string_view>
#include <vector>

#include "engine/data/dataset.hpp"

namespace kestrel::data {

// The path of `dir`/`base`, or of `dir`/`base`.gz when only that exists; empty when neither.
std::string find_idx_file(const std::string& dir, std::string_view base);

// The IDX files of a split ("train" or "test") as an ImageDataset with C = 1, named
// "<name>-<split>"; labels are checked against class_names.size() classes and the image and
// label counts must agree.
ImageDataset load_mnist_like(const std::string& dir, std::string_view split,
                             std::string_view name, const std::vector<std::string>& class_names);

const std::vector<std::string>& mnist_class_names();          // "0" .. "9"
const std::vector<std::string>& fashion_mnist_class_names();  // "T-shirt/top" .. "Ankle boot"

}  // namespace kestrel::data
