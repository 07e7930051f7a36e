#include "engine/dist/poll.hpp"

#include <algorithm>
#include <chrono>
#include <thread>

namespace kestrel::dist {

bool poll_until(const std::function<bool()>& done, double timeout_seconds) {
  using Clock = std::chrono::steady_clock;
  const auto deadline =
      Clock::now() + std::chrono::duration_cast<Clock::duration>(
                         std::chrono::duration<double>(std::max(0.0, timeout_seconds)));
  constexpr int kYields = 64;
  constexpr auto kLongestPause = std::chrono::microseconds(1000);
  auto pause = std::chrono::microseconds(10);
  for (int attempt = 0;; ++attempt) {
    if (done()) return true;
    if (Clock::now() >= deadline) return false;
    if (attempt < kYields) {
      std::this_thread::yield();
    } else {
      std::this_thread::sleep_for(pause);
      pause = std::min(pause * 2, kLongestPause);
    }
  }
}

}  // namespace kestrel::dist
