#pragma once
// The self-test as the CLI runs it (engine/selftest): on one device against the CPU backend,
// printing one line per op. Used by `kestrel devices --self-test` and before `train`'s first
// step on a GPU.
#include <cstdio>

#include "engine/core/device.hpp"
#include "engine/selftest/self_test.hpp"

namespace kestrel::apps {

// `kestrel devices --self-test` exits with this where there is no GPU to test (a CPU-only
// build, no driver, no device); 1 means an op failed, 0 that every op passed.
inline constexpr int kExitNoGpu = 3;

// The options with the test hook read from the environment: KESTREL_SELF_TEST_PERTURB names a
// case whose first output gets +1 at element KESTREL_SELF_TEST_PERTURB_INDEX (default 0) on
// the device under test, to check that a failure is reported (tests only);
// KESTREL_FAULT_FAST_PATH=bf16 makes the bf16 path's cases fail (SelfTestOptions::fail_bf16).
selftest::SelfTestOptions self_test_options_from_environment();

// Runs the self-test on `device` against the CPU. Prints every line to `out` when `all_lines`,
// else only the failing ones, then a summary line. Returns the report (passed(): every op).
selftest::SelfTestReport run_device_self_test(Device device, const selftest::SelfTestOptions& options, bool all_lines,
                          std::FILE* out);

}  // namespace kestrel::apps
