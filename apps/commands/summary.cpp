#include "apps/commands/summary.hpp"

#include <fmt/format.h>

#include <memory>
#include <string>

#include "engine/nn/summary.hpp"
#include "kernels/common/error.hpp"
#include "models/datasets.hpp"
#include "models/registry.hpp"

namespace kestrel::apps {

namespace {

struct SummaryOptions {
  std::string model;
  std::string dataset;  // empty: the model's default
  int64_t batch = 1;
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
  const std::string title =
      fmt::format("{} on {} ({}x{}x{}, {} classes), batch {}", o.model, dataset, in.channels,
                  in.height, in.width, in.classes, o.batch);
  fmt::print("{}", nn::format_summary(graph->summary(), title));
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
  cmd->callback([options] { print_summary(*options); });
}

}  // namespace kestrel::apps
