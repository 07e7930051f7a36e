#pragma once
// The models/ registry as the trainer's ModelBuilder.
#include "engine/train/trainer.hpp"
#include "models/registry.hpp"

namespace kestrel::apps {

inline train::ModelBuilder model_builder() {
  return [](const std::string& name, const Shape& chw, int64_t classes) {
    models::ModelInput in;
    in.channels = chw[0];
    in.height = chw[1];
    in.width = chw[2];
    in.classes = classes;
    return models::build_model(name, in);
  };
}

}  // namespace kestrel::apps
