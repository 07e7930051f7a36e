#include "apps/commands/predict.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <cmath>
#include <memory>
#include <nlohmann/json.hpp>
#include <numeric>
#include <span>
#include <string>
#include <vector>

#include "apps/commands/model_builder.hpp"
#include "engine/checkpoint/checkpoint.hpp"
#include "engine/data/image_file.hpp"
#include "engine/data/registry.hpp"
#include "models/registry.hpp"

namespace kestrel::apps {

namespace {

// Images per forward pass: the graph is built for min(images, this).
constexpr int64_t kMaxPredictBatch = 64;

struct PredictFlags {
  std::string checkpoint, model, dataset, device = "auto";
  std::vector<std::string> images;
  int64_t top = 3;
  bool invert = false;
  bool raw = false;
};

// The run's normalisation, as `kestrel eval` chooses it: the lab's (0.5, 0.5) when the run
// trained with it, else the data set's statistics.
data::Normalization run_normalization(const checkpoint::LoadedCheckpoint& loaded,
                                      const std::string& dataset, int64_t channels) {
  bool lab = false;
  if (!loaded.state.config.empty())
    lab = nlohmann::json::parse(loaded.state.config).value("lab_normalization", false);
  return lab ? data::lab_normalization(static_cast<int>(channels))
             : data::dataset_normalization(dataset);
}

// Softmax of one row of logits in float64 (shifted by the row's maximum).
std::vector<double> softmax(const float* logits, int64_t classes) {
  const float top = *std::max_element(logits, logits + classes);
  std::vector<double> p(static_cast<size_t>(classes));
  double sum = 0.0;
  for (int64_t k = 0; k < classes; ++k) {
    p[static_cast<size_t>(k)] = std::exp(static_cast<double>(logits[k]) - static_cast<double>(top));
    sum += p[static_cast<size_t>(k)];
  }
  for (double& v : p) v /= sum;
  return p;
}

// "path: 7 (98.10%), 9 (1.20%), 4 (0.31%)": the k most probable classes, ties by class index.
std::string format_prediction(const std::string& path, const std::vector<double>& p, int64_t k,
                              const std::vector<std::string>& names) {
  std::vector<size_t> order(p.size());
  std::iota(order.begin(), order.end(), size_t{0});
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return p[a] > p[b]; });
  std::vector<std::string> parts;
  for (size_t i = 0; i < static_cast<size_t>(k) && i < order.size(); ++i) {
    const size_t c = order[i];
    const std::string name = c < names.size() ? names[c] : std::to_string(c);
    parts.push_back(fmt::format("{} ({:.2f}%)", name, 100.0 * p[c]));
  }
  return fmt::format("{}: {}", path, fmt::join(parts, ", "));
}

void run_predict(const PredictFlags& f) {
  const checkpoint::LoadedCheckpoint loaded = checkpoint::load_checkpoint(f.checkpoint);
  const std::string model = f.model.empty() ? loaded.state.model : f.model;
  const std::string dataset = f.dataset.empty() ? loaded.state.dataset : f.dataset;
  if (model.empty() || dataset.empty())
    throw CLI::ValidationError(fmt::format(
        "{} holds weights only (no kestrel metadata): pass --model and --dataset", f.checkpoint));
  const data::DatasetInfo info = data::dataset_info(dataset);
  const data::Normalization norm = run_normalization(loaded, dataset, info.channels);

  // Every image first, so that a bad file stops the run before any output; only the model
  // inputs are kept, not the decoded files.
  const int64_t image_numel = info.channels * info.height * info.width;
  std::vector<float> inputs;
  inputs.reserve(f.images.size() * static_cast<size_t>(image_numel));
  for (const std::string& path : f.images) {
    data::Image image = data::read_image(path);
    if (f.invert) data::invert_image(image);
    const Tensor input = data::to_model_input(image, info.channels, info.height, info.width, norm);
    inputs.insert(inputs.end(), input.data<float>(), input.data<float>() + image_numel);
  }

  Context ctx(train::resolve_device(f.device));
  ctx.set_math(MathOptions::application_default());
  const auto count_all = static_cast<int64_t>(f.images.size());
  const int64_t batch = std::min(count_all, kMaxPredictBatch);
  auto graph = model_builder()(model, Shape{info.channels, info.height, info.width}, info.classes);
  graph->build(ctx, batch);
  checkpoint::NamedTensors params;
  for (const auto& p : graph->state_dict()) params.emplace_back(p.name, p.tensor);
  checkpoint::restore_parameters(loaded, params, model);
  // A run trained with --ema predicts with its averaged weights, as `kestrel eval` scores it.
  if (checkpoint::has_ema(loaded) && !f.raw) {
    checkpoint::NamedTensors trainable;
    for (const auto& p : graph->named_parameters()) trainable.emplace_back(p.name, p.tensor);
    checkpoint::restore_ema(loaded, trainable);
  }

  for (int64_t first = 0; first < count_all; first += batch) {
    const int64_t count = std::min(count_all - first, batch);
    const Tensor host = Tensor::from_vector(
        Shape{count, info.channels, info.height, info.width},
        std::span<const float>(inputs).subspan(static_cast<size_t>(first * image_numel),
                                               static_cast<size_t>(count * image_numel)));
    const Tensor logits =
        graph->forward(ctx, host.to(ctx.device()), /*training=*/false, /*step=*/0);
    const std::vector<float> z = logits.to_vector();
    for (int64_t i = 0; i < count; ++i) {
      const std::vector<double> p =
          softmax(z.data() + static_cast<size_t>(i * info.classes), info.classes);
      fmt::print("{}\n", format_prediction(f.images[static_cast<size_t>(first + i)], p, f.top,
                                           info.class_names));
    }
  }
}

}  // namespace

void register_predict_command(CLI::App& app) {
  auto f = std::make_shared<PredictFlags>();
  auto* cmd = app.add_subcommand(
      "predict", "Classify PNG or JPEG images with a checkpoint: the top classes of each");
  cmd->add_option("checkpoint", f->checkpoint, "A .safetensors checkpoint")->required();
  cmd->add_option("images", f->images, "PNG or JPEG files, any size (resized to the model's)")
      ->required();
  cmd->add_option("--top", f->top, "How many classes to show per image (3)")
      ->check(CLI::Range(int64_t{1}, int64_t{1000}));
  cmd->add_flag("--raw", f->raw,
                "Use the trained weights, not their moving average (a run with --ema)");
  cmd->add_flag("--invert", f->invert,
                "Invert the images first: MNIST digits are light on dark, so a dark digit on "
                "white paper needs it");
  cmd->add_option("--model", f->model,
                  "The model (default: the checkpoint's; needed for weights "
                  "written by other tools)")
      ->check(CLI::IsMember(models::model_names()));
  cmd->add_option("--dataset", f->dataset,
                  "Data set the model was trained on: input size, normalisation and class names "
                  "(default: the checkpoint's)")
      ->check(CLI::IsMember(data::dataset_names()));
  cmd->add_option("--device", f->device, "auto | cpu | cuda | cuda:N (auto)");
  cmd->callback([f] { run_predict(*f); });
}

}  // namespace kestrel::apps
