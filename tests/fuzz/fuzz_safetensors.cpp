// libFuzzer target for the safetensors reader (parse_safetensors, the checks read_safetensors
// runs on a file): any input either reads into a consistent file or throws kestrel::Error;
// anything else (a crash, a sanitizer report, another exception, a huge allocation) is a bug.
// Consistent: entries with unique names other than __metadata__, in data-offset order, each a
// host tensor of its shape and dtype holding exactly the bytes it covers, and together covering
// the whole data buffer after the header. Built and run by scripts/fuzz.sh.
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <span>

#include "engine/checkpoint/safetensors.hpp"
#include "kernels/common/error.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    const kestrel::checkpoint::SafetensorsFile file =
        kestrel::checkpoint::parse_safetensors(std::span<const uint8_t>(data, size), "fuzz");
    uint64_t header_length = 0;
    if (size < sizeof header_length) std::abort();
    std::memcpy(&header_length, data, sizeof header_length);
    uint64_t offset = sizeof header_length + header_length;
    for (const auto& entry : file.entries) {
      const kestrel::Tensor& t = entry.tensor;
      const bool consistent = !entry.name.empty() && entry.name != "__metadata__" &&
                              file.find(entry.name) == &entry && t.defined() &&
                              t.device().is_cpu() && t.dtype() == entry.dtype &&
                              t.shape() == entry.shape && t.nbytes() <= size - offset;
      if (!consistent) std::abort();
      if (t.nbytes() > 0 && std::memcmp(t.raw_data(), data + offset, t.nbytes()) != 0)
        std::abort();
      offset += t.nbytes();
    }
    if (offset != size) std::abort();
  } catch (const kestrel::Error&) {
  }
  return 0;
}
