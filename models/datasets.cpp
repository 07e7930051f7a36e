#include "models/datasets.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "kernels/common/error.hpp"
#include "models/registry.hpp"

namespace kestrel::models {

namespace {

struct DatasetEntry {
  std::string_view name;
  ModelInput input;
};

constexpr DatasetEntry kDatasets[] = {{"mnist", {1, 28, 28, 10}},
                                      {"fashion-mnist", {1, 28, 28, 10}},
                                      {"cifar10", {3, 32, 32, 10}},
                                      {"imagenet", {3, 224, 224, 1000}}};

}  // namespace

std::vector<std::string> dataset_names() {
  std::vector<std::string> names;
  for (const DatasetEntry& d : kDatasets) names.emplace_back(d.name);
  return names;
}

ModelInput dataset_input(std::string_view dataset) {
  for (const DatasetEntry& d : kDatasets)
    if (d.name == dataset) return d.input;
  KESTREL_FAIL("unknown data set '{}' (known: {})", dataset, fmt::join(dataset_names(), ", "));
}

std::string_view default_dataset(std::string_view model) {
  if (model == "lenet5" || model == "lenet5-classic") return "mnist";
  if (model == "alexnet" || model == "resnet18" || model == "resnet20" || model == "googlenet" ||
      model == "densenet121" || model == "mobilenet_v2" || model == "efficientnet_b0" ||
      model == "vit" || model == "airbench94" || model == "airbench94_muon")
    return "cifar10";
  if (model == "alexnet-imagenet") return "imagenet";
  KESTREL_FAIL("unknown model '{}' (known: {})", model, fmt::join(model_names(), ", "));
}

}  // namespace kestrel::models
