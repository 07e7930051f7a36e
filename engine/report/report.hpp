#pragma once
// `kestrel report`: one self-contained report.html for one or several run directories. It
// needs no network and no JavaScript: charts are inline SVG, test images embedded PNGs, the
// style sheet inline. For one run: training curves, final evaluation, model, misclassified
// images, configuration. For several: a comparison table and overlaid curves (one colour per
// run), then each run's own section.
//
// The report rebuilds each run's model to show its layers. Building a model by name is the
// business of models/, which sits above engine/, so the caller passes that in as a
// ModelSummarizer (the CLI wraps models::build_model), as the trainer takes a ModelBuilder.
#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include "engine/nn/summary.hpp"
#include "engine/report/run_record.hpp"

namespace kestrel::report {

// The summary of model `model` sized for data set `dataset` at batch `batch`, and a title for
// it; throws kestrel::Error when it cannot (the report then says why).
struct ModelDescription {
  nn::GraphSummary summary;
  std::string title;
};
using ModelSummarizer = std::function<ModelDescription(
    const std::string& model, const std::string& dataset, int64_t batch)>;

struct ReportOptions {
  // Where the test images of the misclassified gallery are read from. Empty: each run's own
  // data_dir from config.json (as the trainer saw it), else "data".
  std::string data_dir;
  ModelSummarizer summarize_model;  // empty: the model sections say there is no summary
  std::string generated_at;         // empty: the current UTC time
};

// The whole page for runs already loaded.
std::string render_report(const std::vector<RunRecord>& runs, const ReportOptions& options);

// Loads every run directory (kestrel::Error naming the file when a metrics.jsonl is missing or
// corrupt) and writes the report to `out_html` atomically (temporary file, then rename).
void write_report(const std::vector<std::filesystem::path>& run_dirs,
                  const std::filesystem::path& out_html, const ReportOptions& options);

// The same with only a data folder: no model summary.
void write_report(const std::vector<std::filesystem::path>& run_dirs,
                  const std::filesystem::path& out_html, const std::string& data_dir);

}  // namespace kestrel::report
