// libFuzzer target for the CIFAR-10 binary parser: any input either parses into consistent
// records or throws kestrel::Error; anything else is a bug. Built and run by scripts/fuzz.sh.
#include <cstdint>
#include <cstdlib>
#include <optional>
#include <span>

#include "engine/data/cifar_reader.hpp"
#include "kernels/common/error.hpp"

namespace {

void parse(std::span<const uint8_t> bytes, std::optional<int64_t> expected_records) {
  try {
    const kestrel::data::CifarBatch batch =
        kestrel::data::parse_cifar_batch(bytes, "fuzz", expected_records);
    if (batch.count() <= 0 ||
        batch.images.size() != static_cast<size_t>(batch.count()) * kestrel::data::kCifarImageBytes ||
        (expected_records && batch.count() != *expected_records)) {
      std::abort();
    }
    for (int32_t label : batch.labels) {
      if (label < 0 || label >= kestrel::data::kCifar10Classes) std::abort();
    }
  } catch (const kestrel::Error&) {
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::span<const uint8_t> bytes(data, size);
  parse(bytes, std::nullopt);
  parse(bytes, 1);
  parse(bytes, kestrel::data::kCifar10RecordsPerFile);
  return 0;
}
