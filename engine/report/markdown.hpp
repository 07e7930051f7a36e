#pragma once
// `kestrel report --markdown`: the measured results of one or several runs as Markdown tables,
// for documents that quote them (docs/lab.md, rewritten by scripts/lab.sh). Every number comes
// from the run directories: metrics.jsonl, config.json and the model summary.
//
//   Runs             model, data set, epochs, device, time per epoch, images/s, accuracy, F1
//   Test top-1       per epoch, one column per run
//   Architectures    weighted layers, kernels, pooling, activations, dropout, normalisation,
//                    parameters, multiply-adds and activation memory per image
//   Hardest classes  per run: the lowest recalls and the most frequent confusions
#include <filesystem>
#include <string>
#include <vector>

#include "engine/report/report.hpp"
#include "engine/report/run_record.hpp"

namespace kestrel::report {

std::string render_markdown(const std::vector<RunRecord>& runs, const ReportOptions& options);

// Loads every run directory (kestrel::Error naming the file when one is missing or corrupt) and
// writes the tables to `out_md` atomically (temporary file, then rename).
void write_markdown(const std::vector<std::filesystem::path>& run_dirs,
                    const std::filesystem::path& out_md, const ReportOptions& options);

}  // namespace kestrel::report
