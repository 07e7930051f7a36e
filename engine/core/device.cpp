#include "engine/core/device.hpp"

#include <charconv>

#include "kernels/common/error.hpp"

namespace kestrel {

std::string Device::str() const {
  return is_cpu() ? std::string("cpu") : fmt::format("cuda:{}", index);
}

Device Device::parse(std::string_view text) {
  if (text == "cpu") return cpu();
  if (text == "cuda") return cuda(0);
  if (text.starts_with("cuda:")) {
    const auto digits = text.substr(5);
    int i = -1;
    const auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), i);
    if (ec == std::errc() && end == digits.data() + digits.size() && i >= 0) return cuda(i);
  }
  KESTREL_FAIL("invalid device '{}': expected cpu, cuda or cuda:N", text);
}

}  // namespace kestrel
