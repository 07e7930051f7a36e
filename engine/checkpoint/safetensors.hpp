#pragma once
// safetensors files (https://github.com/huggingface/safetensors), the format PyTorch users load
// with safetensors.torch.load_file and write with save_file:
//
//   [8 bytes]  N, the header length, unsigned little-endian
//   [N bytes]  the header: a UTF-8 JSON object, padded with trailing spaces
//              { "__metadata__": {"key": "value", ...},
//                "<name>": {"dtype": "F32", "shape": [120, 256], "data_offsets": [begin, end]},
//                ... }
//   [rest]     the data buffer: every tensor row-major and little-endian at its offsets
//              (relative to the buffer's start), no overlaps, no holes, nothing after the end.
//
// The writer follows the reference implementation byte for byte: tensors ordered by dtype
// alignment (largest first, in the reference's dtype order) and then by name, so that every
// tensor starts aligned to its element size; compact JSON with the header padded by spaces to a
// multiple of 8 bytes; "__metadata__" first, omitted when empty. The write is atomic.
//
// The reader checks everything the spec requires and refuses anything else with a
// kestrel::Error naming the file and the problem; it never trusts a length or an offset before
// checking it against the file.
#include <cstdint>
#include <map>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "engine/tensor/tensor.hpp"

namespace kestrel::checkpoint {

// The reference implementation's limit on the header length (100 MB).
inline constexpr uint64_t kMaxHeaderBytes = 100'000'000;

// "F32", "BF16", "F16", "I32", "I64", "U8": the spec's name of a kestrel dtype.
std::string_view safetensors_dtype_name(DType dtype);

// Writes `tensors` (any device, any supported dtype; names unique, non-empty, not
// "__metadata__") with `metadata` to `path`, atomically: the bytes go to a temporary file in
// the same directory, which is flushed to disk (fsync), renamed over `path`, and the directory
// is synced. On any failure before the rename the temporary file is removed, `path` is left as
// it was, and a kestrel::Error names the file and the cause (a failure to sync the directory
// after the rename is reported too: the new file is then in place but maybe not yet durable).
void write_safetensors(const std::string& path,
                       const std::vector<std::pair<std::string, Tensor>>& tensors,
                       const std::map<std::string, std::string>& metadata);

struct SafetensorsFile {
  struct Entry {
    std::string name;
    DType dtype = DType::F32;
    Shape shape;
    Tensor tensor;  // a host tensor holding the file's bytes
  };

  std::map<std::string, std::string> metadata;  // empty when the header has no __metadata__
  std::vector<Entry> entries;                   // in file (data offset) order

  // The entry named `name`, or nullptr.
  const Entry* find(std::string_view name) const;
};

// Reads and validates a whole safetensors file. Throws kestrel::Error ("<path>: <problem>") for
// a missing or unreadable file, a file that is not safetensors, a truncated file, a header that
// is not a JSON object of the spec's form, duplicate keys, an unknown dtype or one kestrel does
// not hold (F64, BOOL, ...), more than Shape::kMaxDims dimensions, offsets that do not match
// shape and dtype, overlap, holes, or bytes beyond the last tensor.
SafetensorsFile read_safetensors(const std::string& path);

// The same checks on a whole file already in memory (the fuzzer's entry): `name` stands for the
// path in the messages.
SafetensorsFile parse_safetensors(std::span<const uint8_t> bytes, const std::string& name);

}  // namespace kestrel::checkpoint
