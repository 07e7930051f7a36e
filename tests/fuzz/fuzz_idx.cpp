// libFuzzer target for the IDX parser: any input either parses into a consistent result or
// throws kestrel::Error. Anything else (a crash, a sanitizer report, another exception, a huge
// allocation) is a bug. Each input is parsed as it is (raw, or gzip when it starts with 1f 8b)
// and gzip-compressed, so the IDX checks behind the gzip layer (unknown length, chunked reads,
// trailing bytes) see mutated content too. Built and run by scripts/fuzz.sh.
#include <zlib.h>

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <span>
#include <vector>

#include "engine/data/idx_reader.hpp"
#include "kernels/common/error.hpp"

namespace {

std::vector<uint8_t> gzip(std::span<const uint8_t> bytes) {
  z_stream stream;
  std::memset(&stream, 0, sizeof(stream));
  // A small window and little memory: fast per input, still a valid gzip stream.
  if (deflateInit2(&stream, 1, Z_DEFLATED, 16 + 9, 1, Z_DEFAULT_STRATEGY) != Z_OK) {
    std::abort();
  }
  std::vector<uint8_t> out(deflateBound(&stream, bytes.size()));
  stream.next_in = const_cast<Bytef*>(bytes.data());
  stream.avail_in = static_cast<uInt>(bytes.size());
  stream.next_out = out.data();
  stream.avail_out = static_cast<uInt>(out.size());
  if (deflate(&stream, Z_FINISH) != Z_STREAM_END) std::abort();
  out.resize(stream.total_out);
  deflateEnd(&stream);
  return out;
}

void parse(std::span<const uint8_t> bytes) {
  try {
    const kestrel::data::IdxImages images = kestrel::data::parse_idx_images(bytes, "fuzz");
    const uint64_t expected = static_cast<uint64_t>(images.count) *
                              static_cast<uint64_t>(images.rows) *
                              static_cast<uint64_t>(images.cols);
    if (images.count <= 0 || images.rows <= 0 || images.cols <= 0 ||
        images.pixels.size() != expected) {
      std::abort();
    }
  } catch (const kestrel::Error&) {
  }
  try {
    const auto labels = kestrel::data::parse_idx_labels(bytes, "fuzz", 10);
    if (labels.empty()) std::abort();
    for (int32_t label : labels) {
      if (label < 0 || label >= 10) std::abort();
    }
  } catch (const kestrel::Error&) {
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::span<const uint8_t> bytes(data, size);
  parse(bytes);
  parse(gzip(bytes));
  return 0;
}
