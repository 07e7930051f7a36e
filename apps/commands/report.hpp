#pragma once
#include <CLI/CLI.hpp>

#include <string>

namespace kestrel::apps {

// `kestrel report RUN_DIR [RUN_DIR...] [--out FILE] [--data-dir DIR]`: one self-contained HTML
// report of one run, or of several side by side. Default output: RUN_DIR/report.html for one
// run, ./report.html for several.
void register_report_command(CLI::App& app);

// Writes RUN_DIR/report.html at the end of `kestrel train` and prints its path. The run is
// already saved, so a report that cannot be written is a warning on stderr, not a failure.
void write_run_report(const std::string& run_dir, const std::string& data_dir);

}  // namespace kestrel::apps
