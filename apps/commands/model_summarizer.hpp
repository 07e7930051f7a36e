#pragma once
// The models/ registry as the report's ModelSummarizer: rebuilds a run's model by name, sized
// for its data set, and plans it at the run's batch so the summary's memory figures match.
#include <fmt/format.h>

#include "engine/data/registry.hpp"
#include "engine/report/report.hpp"
#include "models/datasets.hpp"
#include "models/registry.hpp"

namespace kestrel::apps {

inline report::ModelSummarizer model_summarizer() {
  return [](const std::string& model, const std::string& dataset, int64_t batch) {
    // The generated data set is not a models/ input; its shape is the registry's.
    const models::ModelInput in =
        dataset == "synthetic"
            ? models::ModelInput{data::kSyntheticChannels, data::kSyntheticSide,
                                 data::kSyntheticSide, data::kSyntheticClasses}
            : models::dataset_input(dataset);
    auto graph = models::build_model(model, in);
    graph->plan(in.shape(), batch, in.classes);
    return report::ModelDescription{
        graph->summary(), fmt::format("{} on {} ({}x{}x{}, {} classes), batch {}", model, dataset,
                                      in.channels, in.height, in.width, in.classes, batch)};
  };
}

}  // namespace kestrel::apps
