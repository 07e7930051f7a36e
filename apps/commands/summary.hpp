#pragma once
#include <CLI/CLI.hpp>

namespace kestrel::apps {

// `kestrel summary MODEL [--dataset D] [--batch B]`: the model's layers with output shapes,
// parameters, multiply-adds and activation memory, and totals (after torchinfo). Computed from
// shape inference alone: nothing is allocated.
void register_summary_command(CLI::App& app);

}  // namespace kestrel::apps
