#include "apps/commands/batch.hpp"

#include <fmt/format.h>

#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "apps/commands/model_builder.hpp"
#include "engine/checkpoint/checkpoint.hpp"
#include "engine/ops/cross_entropy.hpp"
#include "engine/optim/sgd.hpp"
#include "kernels/common/error.hpp"
#include "kernels/cpu/parallel.hpp"
#include "models/datasets.hpp"
#include "models/registry.hpp"

namespace kestrel::apps {

namespace {

struct BatchFlags {
  std::string model, dataset, weights, input, out, save, device = "cpu";
  float sgd_lr = 0.0f;
  int threads = 0;
  bool no_dropout = false;
};

// The input file's "images" (f32 [N, C, H, W]) and, for a training step, "labels" (i64 or
// i32 [N], each in [0, classes)) as the i32 the loss takes.
struct Batch {
  Tensor images, labels;
};

Batch read_batch(const std::string& path, bool need_labels, int64_t classes) {
  const checkpoint::SafetensorsFile file = checkpoint::read_safetensors(path);
  const auto* images = file.find("images");
  KESTREL_CHECK(images != nullptr, "{}: no tensor named 'images'", path);
  KESTREL_CHECK(
      images->dtype == DType::F32 && images->shape.ndim() == 4 && images->shape.numel() > 0,
      "{}: 'images' must be a non-empty f32 [N, C, H, W], got {} {}", path,
      dtype_name(images->dtype), images->shape.str());
  Batch b{images->tensor, {}};
  if (!need_labels) return b;
  const auto* labels = file.find("labels");
  KESTREL_CHECK(labels != nullptr, "{}: --sgd-lr needs a tensor named 'labels'", path);
  const int64_t n = images->shape[0];
  KESTREL_CHECK(
      (labels->dtype == DType::I64 || labels->dtype == DType::I32) && labels->shape == Shape{n},
      "{}: 'labels' must be i64 or i32 [{}], got {} {}", path, n, dtype_name(labels->dtype),
      labels->shape.str());
  std::vector<int32_t> values(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) {
    const int64_t v = labels->dtype == DType::I64 ? labels->tensor.data<int64_t>()[i]
                                                  : labels->tensor.data<int32_t>()[i];
    KESTREL_CHECK(v >= 0 && v < classes, "{}: label {} of row {} is outside [0, {})", path, v, i,
                  classes);
    values[static_cast<size_t>(i)] = static_cast<int32_t>(v);
  }
  b.labels = Tensor::from_vector(Shape{n}, std::span<const int32_t>(values));
  return b;
}

void run_batch(const BatchFlags& f) {
  if (!f.save.empty() && f.sgd_lr <= 0.0f)
    throw CLI::ValidationError("--save writes the weights after a step: it needs --sgd-lr");
  if (f.threads > 0) cpu::set_num_threads(f.threads);
  const std::string dataset =
      f.dataset.empty() ? std::string(models::default_dataset(f.model)) : f.dataset;
  const int64_t classes = models::dataset_input(dataset).classes;
  const bool step = f.sgd_lr > 0.0f;
  const Batch batch = read_batch(f.input, step, classes);
  const checkpoint::LoadedCheckpoint weights = checkpoint::load_checkpoint(f.weights);

  const Shape& in = batch.images.shape();
  Context ctx(train::resolve_device(f.device));
  auto graph = model_builder()(f.model, Shape{in[1], in[2], in[3]}, classes);
  if (f.no_dropout) graph->disable_dropout();
  graph->build(ctx, in[0]);
  checkpoint::NamedTensors state;
  for (const auto& t : graph->state_dict()) state.emplace_back(t.name, t.tensor);
  checkpoint::restore_parameters(weights, state, f.model);

  Tensor logits = graph->forward(ctx, batch.images.to(ctx.device()), step, /*step=*/0);
  std::vector<std::pair<std::string, Tensor>> out{{"logits", logits.to(Device::cpu())}};
  if (step) {
    const float loss =
        ops::cross_entropy_forward_backward(ctx, logits, batch.labels.to(ctx.device()), &logits);
    graph->backward(ctx, logits);
    out.emplace_back("loss", Tensor::from_vector(Shape{1}, std::span<const float>(&loss, 1)));
    for (const auto& g : graph->named_gradients())
      out.emplace_back("grad." + g.name, g.tensor.to(Device::cpu()));
    optim::Sgd sgd(optim::SgdOptions{.lr = f.sgd_lr});
    sgd.step(ctx, graph->parameters(), graph->gradients());
  }
  checkpoint::write_safetensors(f.out, out, {{"format", "pt"}});
  if (!f.save.empty()) {
    std::vector<std::pair<std::string, Tensor>> saved;
    for (const auto& t : graph->state_dict()) saved.emplace_back(t.name, t.tensor);
    checkpoint::write_safetensors(f.save, saved, {{"format", "pt"}});
  }
}

}  // namespace

void register_batch_command(CLI::App& app) {
  auto f = std::make_shared<BatchFlags>();
  auto* cmd = app.add_subcommand(
      "batch",
      "Run one batch from a safetensors file through a model: its logits, or one SGD step "
      "with the gradients and the updated weights (for checking against PyTorch)");
  cmd->add_option("model", f->model, "The model")
      ->required()
      ->check(CLI::IsMember(models::model_names()));
  cmd->add_option("--weights", f->weights, "safetensors file with the model's state_dict")
      ->required();
  cmd->add_option("--input", f->input,
                  "safetensors file with 'images' (f32 [N, C, H, W]) and, for --sgd-lr, "
                  "'labels' (i64 [N])")
      ->required();
  cmd->add_option("--out", f->out, "safetensors file to write: logits (and loss, grad.*)")
      ->required();
  cmd->add_option("--dataset", f->dataset,
                  "Data set whose class count the model is built for (default: the model's)")
      ->check(CLI::IsMember(models::dataset_names()));
  cmd->add_option("--sgd-lr", f->sgd_lr,
                  "Train mode and one SGD step at this rate (no momentum, no weight decay)")
      ->check(CLI::PositiveNumber);
  cmd->add_flag("--no-dropout", f->no_dropout,
               "Dropout and drop path off in the training step (as PyTorch modules at p = 0)");
  cmd->add_option("--save", f->save, "With --sgd-lr: write the state_dict after the step here");
  cmd->add_option("--device", f->device, "cpu | cuda | cuda:N | auto (cpu)");
  cmd->add_option("--threads", f->threads, "CPU threads (default: all cores)")
      ->check(CLI::Range(1, 1024));
  cmd->callback([f] { run_batch(*f); });
}

}  // namespace kestrel::apps
