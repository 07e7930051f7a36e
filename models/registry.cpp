#include "models/registry.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "kernels/common/error.hpp"
#include "models/airbench.hpp"
#include "models/alexnet.hpp"
#include "models/densenet.hpp"
#include "models/efficientnet.hpp"
#include "models/googlenet.hpp"
#include "models/lenet5.hpp"
#include "models/mobilenet_v2.hpp"
#include "models/resnet.hpp"
#include "models/vit.hpp"

namespace kestrel::models {

namespace {

using Builder = std::unique_ptr<nn::Graph> (*)(const ModelInput&);

struct Entry {
  std::string_view name;
  Builder build;
};

constexpr Entry kModels[] = {{"lenet5", lenet5},
                             {"lenet5-classic", lenet5_classic},
                             {"alexnet", alexnet_cifar},
                             {"alexnet-imagenet", alexnet_imagenet},
                             {"resnet18", resnet18},
                             {"resnet20", resnet20},
                             {"googlenet", googlenet},
                             {"densenet121", densenet121},
                             {"mobilenet_v2", mobilenet_v2},
                             {"efficientnet_b0", efficientnet_b0},
                             {"vit", vit},
                             {"airbench94", airbench94},
                             // The same net, trained by airbench94_muon's recipe by default.
                             {"airbench94_muon", airbench94}};

}  // namespace

std::vector<std::string> model_names() {
  std::vector<std::string> names;
  for (const Entry& e : kModels) names.emplace_back(e.name);
  return names;
}

std::unique_ptr<nn::Graph> build_model(std::string_view name, const ModelInput& in) {
  for (const Entry& e : kModels) {
    if (e.name != name) continue;
    KESTREL_CHECK(in.channels >= 1 && in.height >= 1 && in.width >= 1 && in.classes >= 1,
                  "model {}: input {}x{}x{} with {} classes must be positive", name, in.channels,
                  in.height, in.width, in.classes);
    // A builder's own refusal (a ViT patch that does not divide the image) reads as a planning
    // error does: one line.
    std::unique_ptr<nn::Graph> g;
    try {
      g = e.build(in);
      g->plan(in.shape(), 1, in.classes);
    } catch (const Error& err) {
      KESTREL_FAIL("model {} does not fit {}x{}x{} images: {}", name, in.channels, in.height,
                   in.width, err.message().empty() ? err.what() : err.message());
    }
    return g;
  }
  KESTREL_FAIL("unknown model '{}' (known: {})", name, fmt::join(model_names(), ", "));
}

}  // namespace kestrel::models
