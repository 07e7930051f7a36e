#pragma once
#include <CLI/CLI.hpp>

namespace kestrel::apps {

// `kestrel predict CHECKPOINT IMAGE... [--top K] [--invert] [--device D]`: classifies PNG or
// JPEG files of any size with a trained model and prints the top K classes of each.
void register_predict_command(CLI::App& app);

}  // namespace kestrel::apps
