#pragma once
// `--profile-steps A:B`, shared by `train` and `bench`: the steps that cudaProfilerStart/Stop
// bracket for `nsys profile --capture-range=cudaProfilerApi`.
#include <fmt/format.h>

#include <CLI/CLI.hpp>
#include <charconv>
#include <cstdint>
#include <string>
#include <utility>

namespace kestrel::apps {

// "A:B" -> (A, B) with 0 <= A <= B; a usage error otherwise.
inline std::pair<int64_t, int64_t> parse_step_range(const std::string& text) {
  const auto colon = text.find(':');
  int64_t a = -1, b = -1;
  const char* begin = text.data();
  const char* end = begin + text.size();
  const bool ok = colon != std::string::npos &&
                  std::from_chars(begin, begin + colon, a).ptr == begin + colon &&
                  std::from_chars(begin + colon + 1, end, b).ptr == end && colon > 0 &&
                  colon + 1 < text.size() && a >= 0 && a <= b;
  if (!ok)
    throw CLI::ValidationError(
        fmt::format("--profile-steps: expected A:B with 0 <= A <= B (e.g. 20:24), got '{}'", text));
  return {a, b};
}

inline constexpr const char* kProfileStepsOnCpuNote =
    "kestrel: note: --profile-steps has no effect on the CPU (it brackets steps for Nsight "
    "Systems on a GPU)\n";

}  // namespace kestrel::apps
