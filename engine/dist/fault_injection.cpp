#include "engine/dist/fault_injection.hpp"

#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <thread>

#include "kernels/common/error.hpp"

namespace kestrel::dist {

namespace {

int64_t parse_whole(const char* name, const char* text) {
  KESTREL_CHECK(text != nullptr, "KESTREL_FAULT is set but {} is not", name);
  const std::string s(text);
  size_t used = 0;
  long long value = -1;
  try {
    value = std::stoll(s, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  KESTREL_CHECK(used == s.size() && !s.empty() && value >= 0, "{}='{}' is not a whole number >= 0",
                name, s);
  return static_cast<int64_t>(value);
}

}  // namespace

FaultPlan read_fault_plan(const EnvironmentLookup& lookup) {
  FaultPlan plan;
  const char* kind = lookup("KESTREL_FAULT");
  if (kind == nullptr || std::string_view(kind).empty()) return plan;
  const std::string_view k(kind);
  if (k == "kill") {
    plan.kind = FaultKind::Kill;
  } else if (k == "hang") {
    plan.kind = FaultKind::Hang;
  } else if (k == "error") {
    plan.kind = FaultKind::Error;
  } else {
    KESTREL_FAIL("KESTREL_FAULT='{}': expected kill, hang or error", k);
  }
  plan.rank = static_cast<int>(parse_whole("KESTREL_FAULT_RANK", lookup("KESTREL_FAULT_RANK")));
  plan.step = parse_whole("KESTREL_FAULT_STEP", lookup("KESTREL_FAULT_STEP"));
  return plan;
}

FaultPlan read_fault_plan() {
  return read_fault_plan([](const char* name) { return std::getenv(name); });
}

void inject_fault(const FaultPlan& plan, int rank, int64_t step) {
  if (plan.kind == FaultKind::None || plan.rank != rank || plan.step != step) return;
  std::fprintf(stderr, "kestrel: rank %d: injecting a fault at step %lld (KESTREL_FAULT)\n", rank,
               static_cast<long long>(step));
  std::fflush(stderr);
  switch (plan.kind) {
    case FaultKind::Kill:
      std::raise(SIGKILL);
      break;
    case FaultKind::Hang:
      for (;;) std::this_thread::sleep_for(std::chrono::seconds(60));
    case FaultKind::Error:
      KESTREL_FAIL("injected error at step {} (KESTREL_FAULT=error)", step);
    case FaultKind::None:
      break;
  }
}

}  // namespace kestrel::dist
