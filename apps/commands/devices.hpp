#pragma once
#include <CLI/CLI.hpp>

namespace kestrel::apps {

// `kestrel devices`: the GPUs this machine has, with versions of the libraries kestrel uses.
void register_devices_command(CLI::App& app);

}  // namespace kestrel::apps
