// libFuzzer target for the image reader (PNG through libpng, JPEG through libjpeg-turbo, both
// behind kestrel's setjmp/longjmp error handling): any input either decodes into a consistent
// image or throws kestrel::Error; anything else (a crash, a sanitizer report, a jump past C++
// frames, another exception) is a bug. read_image takes a path, so each input goes into an
// in-memory file read as /proc/self/fd/N. Built and run by scripts/fuzz.sh.
#include <sys/mman.h>
#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <string>

#include "engine/data/image_file.hpp"
#include "kernels/common/error.hpp"

namespace {

int memory_file() {
  static const int fd = ::memfd_create("fuzz-image", 0);
  if (fd < 0) std::abort();
  return fd;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const int fd = memory_file();
  if (::ftruncate(fd, 0) != 0 || ::pwrite(fd, data, size, 0) != static_cast<ssize_t>(size))
    std::abort();
  try {
    const kestrel::data::Image image =
        kestrel::data::read_image("/proc/self/fd/" + std::to_string(fd));
    const bool consistent =
        (image.channels == 1 || image.channels == 3) && image.width > 0 && image.height > 0 &&
        image.width <= kestrel::data::kMaxImageSide &&
        image.height <= kestrel::data::kMaxImageSide &&
        image.pixels.size() == static_cast<size_t>(image.width * image.height * image.channels);
    if (!consistent) std::abort();
  } catch (const kestrel::Error&) {
  }
  return 0;
}
