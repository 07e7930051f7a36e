#pragma once
// CIFAR-10 from its binary version (a cifar-10-batches-bin/ folder): the training split is
// data_batch_1.bin .. data_batch_5.bin, the test split test_batch.bin.
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "engine/data/cifar_reader.hpp"
#include "engine/data/dataset.hpp"

namespace kestrel::data {

// The file names of a split ("train" or "test"), in order.
std::vector<std::string> cifar10_split_files(std::string_view split);

// The split as an ImageDataset [N, 3, 32, 32] named "cifar10-<split>". Each file must hold
// exactly `records_per_file` records (10,000 in the official files; tests pass fewer).
ImageDataset load_cifar10(const std::string& dir, std::string_view split,
                          int64_t records_per_file = kCifar10RecordsPerFile);

}  // namespace kestrel::data
