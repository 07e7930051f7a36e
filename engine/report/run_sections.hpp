#pragma once
// The part of a report about one run: its final evaluation (confusion heatmap, per-class
// precision/recall/F1, the most frequent confusions), the metrics of every epoch, the model's
// layers, a gallery of misclassified test images, and its configuration and environment.
#include <optional>
#include <string>

#include "engine/data/dataset.hpp"
#include "engine/nn/summary.hpp"
#include "engine/report/run_record.hpp"

namespace kestrel::report {

// What the report found beside the run directory: the model's summary (rebuilt by name) and the
// test images (read from the data set), or why either is missing.
struct RunContext {
  std::optional<nn::GraphSummary> summary;
  std::string summary_title;  // "lenet5 on mnist (1x28x28, 10 classes), batch 128"
  std::string summary_error;  // why there is no summary
  const data::ImageDataset* test_images = nullptr;
  std::string images_error;  // why there are no images
};

// A <section id="`id`"> with sub-sections `id`-evaluation, -confusion (the heatmap's svg),
// -per-class, -epochs, -model, -misclassified, -config.
std::string render_run_section(const RunRecord& run, const std::string& id,
                               const std::string& heading, const RunContext& context);

// The model's layers and totals as an HTML table.
std::string render_model_summary(const nn::GraphSummary& summary);

// The gallery: one figure per misclassified image (at most `limit`), each an embedded PNG with
// the true and predicted class and the confidence.
std::string render_misclassified_gallery(const RunRecord& run, const data::ImageDataset& images,
                                         size_t limit = 64);

}  // namespace kestrel::report
