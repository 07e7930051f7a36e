#include "engine/data/cifar_reader.hpp"

#include <cstring>
#include <filesystem>
#include <fstream>

#include "engine/data/byte_source.hpp"
#include "kernels/common/error.hpp"

namespace kestrel::data {
namespace {

// A file's size must be a whole number of records, and exactly the expected number of them.
void check_cifar_size(uint64_t size, std::string_view name, std::optional<int64_t> expected) {
  const uint64_t record = kCifarRecordBytes;
  KESTREL_CHECK(size > 0, "{}: empty file, expected records of {} bytes", name, record);
  if (expected) {
    KESTREL_CHECK(*expected > 0, "{}: expected record count must be positive, got {}", name,
                  *expected);
    const uint64_t want = static_cast<uint64_t>(*expected) * record;
    KESTREL_CHECK(size == want, "{}: {} bytes, expected {} ({} records of {} bytes){}", name,
                  with_thousands(size), with_thousands(want), with_thousands(*expected), record,
                  size % record == 0 ? fmt::format(": it holds {} records",
                                                   with_thousands(size / record))
                                     : std::string());
  }
  KESTREL_CHECK(size % record == 0,
                "{}: {} bytes is not a whole number of {}-byte records ({} records and {} {} "
                "over)",
                name, with_thousands(size), record, with_thousands(size / record), size % record,
                size % record == 1 ? "byte" : "bytes");
}

}  // namespace

CifarBatch parse_cifar_batch(std::span<const uint8_t> bytes, std::string_view name,
                             std::optional<int64_t> expected_records) {
  check_cifar_size(bytes.size(), name, expected_records);
  const size_t count = bytes.size() / kCifarRecordBytes;
  CifarBatch batch;
  batch.images.resize(count * kCifarImageBytes);
  batch.labels.resize(count);
  for (size_t i = 0; i < count; ++i) {
    const uint8_t* record = bytes.data() + i * kCifarRecordBytes;
    KESTREL_CHECK(record[0] < kCifar10Classes, "{}: record {} has label {}, outside [0, {})", name,
                  with_thousands(i), record[0], kCifar10Classes);
    batch.labels[i] = record[0];
    std::memcpy(batch.images.data() + i * kCifarImageBytes, record + 1, kCifarImageBytes);
  }
  return batch;
}

CifarBatch read_cifar_batch(const std::string& path, std::optional<int64_t> expected_records) {
  check_cifar_size(regular_file_size(path), path, expected_records);
  const std::vector<uint8_t> bytes = read_raw_file(path);
  return parse_cifar_batch(bytes, path, expected_records);
}

const std::vector<std::string>& cifar10_builtin_class_names() {
  static const std::vector<std::string> names = {"airplane", "automobile", "bird",  "cat",
                                                 "deer",     "dog",        "frog",  "horse",
                                                 "ship",     "truck"};
  return names;
}

std::vector<std::string> cifar10_class_names(const std::string& dir) {
  const std::string path = (std::filesystem::path(dir) / "batches.meta.txt").string();
  if (!std::filesystem::exists(path)) return cifar10_builtin_class_names();
  std::ifstream in(path);
  KESTREL_CHECK(in.good(), "{}: cannot open", path);
  std::vector<std::string> names;
  std::string line;
  while (std::getline(in, line) && names.size() <= kCifar10Classes) {
    // The official file ends its lines with spaces or "\r\n" on some copies, then blank lines.
    const size_t end = line.find_last_not_of(" \t\r");
    if (end == std::string::npos) continue;
    names.push_back(line.substr(0, end + 1));
  }
  KESTREL_CHECK(names.size() == kCifar10Classes, "{}: {} class names, expected {}", path,
                names.size() > kCifar10Classes ? std::string("more than 10")
                                               : std::to_string(names.size()),
                kCifar10Classes);
  return names;
}

}  // namespace kestrel::data
