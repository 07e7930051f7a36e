#pragma once
// The CIFAR-10 "binary version" (cifar-10-batches-bin/): files of 3073-byte records, each one
// label byte then 1024 red, 1024 green and 1024 blue bytes (32 x 32, planar, row-major).
// data_batch_1..5.bin hold 10,000 records each (the training set), test_batch.bin the test set.
//
// Errors are kestrel::Error naming the file and the byte counts; sizes are checked before
// anything is allocated.
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace kestrel::data {

inline constexpr int64_t kCifarImageBytes = 3 * 32 * 32;
inline constexpr int64_t kCifarRecordBytes = 1 + kCifarImageBytes;
inline constexpr int64_t kCifar10RecordsPerFile = 10000;
inline constexpr int kCifar10Classes = 10;

struct CifarBatch {
  std::vector<uint8_t> images;  // count * 3072 bytes, CHW per image
  std::vector<int32_t> labels;  // count, each in [0, 10)
  int64_t count() const { return static_cast<int64_t>(labels.size()); }
};

// Parses records from memory. `expected_records` (when given) is the exact count the file
// must hold; `name` starts every error message.
CifarBatch parse_cifar_batch(std::span<const uint8_t> bytes, std::string_view name,
                             std::optional<int64_t> expected_records);
// The same from a file; errors name the path.
CifarBatch read_cifar_batch(const std::string& path, std::optional<int64_t> expected_records);

// airplane, automobile, ..., truck: from `dir`/batches.meta.txt when it exists (one name a
// line; exactly 10 required), else the built-in list.
std::vector<std::string> cifar10_class_names(const std::string& dir);
const std::vector<std::string>& cifar10_builtin_class_names();

}  // namespace kestrel::data
