#include "apps/commands/summary.hpp"

#include <fmt/format.h>

#include <memory>
#include <string>

#include "engine/nn/summary.hpp"
#include "engine/report/graph_svg.hpp"
#include "engine/run/run_directory.hpp"
#include "kernels/common/error.hpp"
#include "models/datasets.hpp"
#include "models/registry.hpp"

namespace kestrel::apps {

namespace {

struct SummaryOptions {
  std::string model;
  std::string dataset;  // empty: the model's default
  int64_t batch = 1;
  std::string svg;  // where to draw the graph; empty: no drawing
};

void print_summary(const SummaryOptions& o) {
  const std::string dataset =
      o.dataset.empty() ? std::string(models::default_dataset(o.model)) : o.dataset;
  const models::ModelInput in = models::dataset_input(dataset);
  std::unique_ptr<nn::Graph> graph;
  try {
    graph = models::build_model(o.model, in);
    graph->plan(in.shape(), o.batch, in.classes);
  } catch (const Error& e) {
    // A model that cannot take this data set's images is a wrong choice of flags.
    throw CLI::ValidationError(e.message().empty() ? e.what() : e.message());
  }
  const std::string model_title = fmt::format("{} on {} ({}x{}x{}, {} classes)", o.model, dataset,
                                              in.channels, in.height, in.width, in.classes);
  // Drawn first: an unwritable path is one error line (exit 1), not a table and then an error.
  // Written atomically, so a failed write leaves no half-drawn file. The drawing's shapes are
  // one sample's, so its title names no batch.
  if (!o.svg.empty())
    run::write_file_atomically(o.svg, report::render_graph_svg(*graph, model_title));
  fmt::print("{}", nn::format_summary(graph->summary(),
                                      fmt::format("{}, batch {}", model_title, o.batch)));
  if (!o.svg.empty()) fmt::print("graph: {}\n", o.svg);
}

}  // namespace

void register_summary_command(CLI::App& app) {
  auto options = std::make_shared<SummaryOptions>();
  auto* cmd = app.add_subcommand(
      "summary", "Layers, output shapes, parameters, multiply-adds and memory of a model");
  cmd->add_option("model", options->model, "The model")
      ->required()
      ->check(CLI::IsMember(models::model_names()));
  cmd->add_option("--dataset", options->dataset,
                  "Images to size the model for (default: the model's own data set)")
      ->check(CLI::IsMember(models::dataset_names()));
  cmd->add_option("--batch", options->batch, "Batch size (default 1)")
      ->check(CLI::Range(int64_t{1}, int64_t{1} << 20));
  cmd->add_option("--svg", options->svg,
                  "Also draw the graph (every layer with its output shape, every edge) as an SVG "
                  "file at this path");
  cmd->callback([options] { print_summary(*options); });
}

}  // namespace kestrel::apps
