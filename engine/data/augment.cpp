#include "engine/data/augment.hpp"

#include "kernels/common/error.hpp"

namespace kestrel::data {

PaddingMode parse_padding_mode(std::string_view name) {
  if (name == "zero") return PaddingMode::Zero;
  if (name == "reflect") return PaddingMode::Reflect;
  KESTREL_FAIL("crop padding mode '{}' is not one of zero, reflect", name);
}

std::string padding_mode_name(PaddingMode mode) {
  return mode == PaddingMode::Reflect ? "reflect" : "zero";
}

}  // namespace kestrel::data
