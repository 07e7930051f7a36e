#pragma once
#include <CLI/CLI.hpp>

namespace kestrel::apps {

// `kestrel bench MODEL [flags]`: images/s, ms/step, achieved GFLOP/s and peak memory of a
// model's forward pass and training step on synthetic data held on the device
// (engine/bench/benchmark.hpp).
void register_bench_command(CLI::App& app);

}  // namespace kestrel::apps
