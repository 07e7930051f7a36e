#pragma once
// GPU suites skip with a clear message where there is no GPU, and fail instead of skipping
// when KESTREL_REQUIRE_GPU=1 (set by scripts/gpu-check.sh), so a GPU machine that silently
// lost its GPU cannot pass.
#include <gtest/gtest.h>

#include <cstdlib>
#include <string>

#include "engine/runtime/gpu_info.hpp"

namespace kestrel::test {

inline bool gpu_required() {
  const char* v = std::getenv("KESTREL_REQUIRE_GPU");
  return v != nullptr && std::string(v) == "1";
}

inline std::string no_gpu_reason() {
  const auto env = query_gpu_environment();
  return env.no_gpu_reason.empty() ? std::string("no CUDA GPU") : env.no_gpu_reason;
}

}  // namespace kestrel::test

#define KESTREL_SKIP_WITHOUT_GPU()                                                          \
  do {                                                                                      \
    if (::kestrel::cuda_device_count() == 0) {                                              \
      if (::kestrel::test::gpu_required()) {                                                \
        FAIL() << "KESTREL_REQUIRE_GPU=1 but no GPU is usable: "                            \
               << ::kestrel::test::no_gpu_reason();                                         \
      }                                                                                     \
      GTEST_SKIP() << "no CUDA GPU, GPU test skipped (" << ::kestrel::test::no_gpu_reason() \
                   << ")";                                                                  \
    }                                                                                       \
  } while (0)
