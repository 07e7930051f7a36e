#pragma once
// An optional fast path that degrades instead of failing: the first runtime failure turns it
// off for the rest of the process, prints one warning line naming what failed and what runs
// instead, and the caller goes on with its plain path. KESTREL_FAULT_FAST_PATH=<name> makes the
// path of that name fail on purpose (tests, and a user checking the plain path).
#include <atomic>
#include <cstdio>
#include <functional>
#include <mutex>
#include <string>

namespace kestrel::kernels {

class Fallback {
 public:
  // name: "cublaslt-epilogue" (what KESTREL_FAULT_FAST_PATH names); what: the fast path in
  // words; instead: the plain path in words.
  Fallback(std::string name, std::string what, std::string instead);

  // Whether the fast path is still on.
  bool active() const { return active_.load(std::memory_order_relaxed); }
  // Whether KESTREL_FAULT_FAST_PATH names this path (read once, at construction).
  bool fault_injected() const { return injected_; }
  // Turns the path off; the first call prints "kestrel: warning: <what> failed (<why>);
  // <instead> from now on" to `out`.
  void disable(const std::string& why, std::FILE* out = stderr);

  // The fast path's one fallible call, while the path is on: `call` returns "" on success or
  // the library's error text, which turns the path off (one warning). An injected fault turns
  // it off without calling. Returns whether the call ran and succeeded; on false the caller
  // takes its plain path. What `call` throws (a usage error, not a failing library) propagates.
  bool attempt(const std::function<std::string()>& call, std::FILE* out = stderr);

 private:
  std::string name_, what_, instead_;
  bool injected_ = false;
  std::atomic<bool> active_{true};
  std::once_flag warned_;
};

}  // namespace kestrel::kernels
