#include "kernels/common/fallback.hpp"

#include <fmt/format.h>

#include <cstdlib>
#include <utility>

namespace kestrel::kernels {

Fallback::Fallback(std::string name, std::string what, std::string instead)
    : name_(std::move(name)), what_(std::move(what)), instead_(std::move(instead)) {
  const char* fault = std::getenv("KESTREL_FAULT_FAST_PATH");
  injected_ = fault != nullptr && name_ == fault;
}

void Fallback::disable(const std::string& why, std::FILE* out) {
  active_.store(false, std::memory_order_relaxed);
  std::call_once(warned_, [&] {
    fmt::print(out, "kestrel: warning: {} failed ({}); {} from now on\n", what_, why, instead_);
    std::fflush(out);
  });
}

}  // namespace kestrel::kernels
