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

bool Fallback::attempt(const std::function<std::string()>& call, std::FILE* out) {
  if (!active()) return false;
  if (injected_) {
    disable("injected by KESTREL_FAULT_FAST_PATH", out);
    return false;
  }
  const std::string error = call();
  if (error.empty()) return true;
  disable(error, out);
  return false;
}

}  // namespace kestrel::kernels
