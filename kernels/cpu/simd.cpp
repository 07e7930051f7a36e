#include "kernels/cpu/simd.hpp"

#include <fmt/format.h>

#include <atomic>
#include <cstdlib>

namespace kestrel::cpu {

namespace {

SimdLevel detect() {
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
  __builtin_cpu_init();
  // The clones are compiled for avx512f+vl+bw+dq (what every AVX-512 CPU since Skylake-SP has)
  // and avx2, each with fma, so that fmaf is an instruction there instead of a library call.
  const bool fma = __builtin_cpu_supports("fma");
  if (fma && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vl") &&
      __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512dq"))
    return SimdLevel::Avx512;
  if (fma && __builtin_cpu_supports("avx2")) return SimdLevel::Avx2;
#endif
  return SimdLevel::Baseline;
}

SimdLevel lower_to_supported(SimdLevel level) {
  const SimdLevel supported = simd_level_supported();
  return static_cast<int>(level) < static_cast<int>(supported) ? level : supported;
}

SimdLevel from_environment() {
  const char* cap = std::getenv("KESTREL_CPU_SIMD");
  if (cap == nullptr || *cap == '\0') return simd_level_supported();
  const std::optional<SimdLevel> level = parse_simd_level(cap);
  if (!level) {
    fmt::print(stderr, "kestrel: warning: KESTREL_CPU_SIMD={} is not baseline, avx2 or avx512; "
               "using {}\n", cap, simd_level_name(simd_level_supported()));
    return simd_level_supported();
  }
  return lower_to_supported(*level);
}

// -1 until first read; then the level in use.
std::atomic<int> g_level{-1};

}  // namespace

SimdLevel simd_level_supported() {
  static const SimdLevel supported = detect();
  return supported;
}

SimdLevel simd_level() {
  int level = g_level.load(std::memory_order_relaxed);
  if (level < 0) {
    level = static_cast<int>(from_environment());
    g_level.store(level, std::memory_order_relaxed);
  }
  return static_cast<SimdLevel>(level);
}

SimdLevel set_simd_level(SimdLevel level) {
  const SimdLevel used = lower_to_supported(level);
  g_level.store(static_cast<int>(used), std::memory_order_relaxed);
  return used;
}

std::string_view simd_level_name(SimdLevel level) {
  switch (level) {
    case SimdLevel::Avx2: return "avx2";
    case SimdLevel::Avx512: return "avx512";
    case SimdLevel::Baseline: break;
  }
  return "baseline";
}

std::optional<SimdLevel> parse_simd_level(std::string_view name) {
  for (SimdLevel level : {SimdLevel::Baseline, SimdLevel::Avx2, SimdLevel::Avx512})
    if (name == simd_level_name(level)) return level;
  return std::nullopt;
}

}  // namespace kestrel::cpu
