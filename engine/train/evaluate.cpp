#include "engine/train/evaluate.hpp"

#include <chrono>
#include <cmath>

#include "engine/ops/classification.hpp"
#include "engine/ops/cross_entropy.hpp"
#include "engine/runtime/nvtx.hpp"

namespace kestrel::train {

EvalResult evaluate(const Context& ctx, nn::Graph& graph, data::BatchLoader& loader, int classes) {
  NvtxRange range("evaluate");
  KESTREL_CHECK(loader.options().purpose == data::LoaderPurpose::Evaluation,
                "evaluate: the loader augments or shuffles; use an evaluation loader");
  const auto start = std::chrono::steady_clock::now();
  EvalResult r;
  r.confusion = metrics::ConfusionMatrix(classes);
  const bool with_top5 = classes >= 10;
  Tensor predicted = Tensor::empty(Shape{graph.batch_size()}, DType::I32, ctx.device());
  double loss_sum = 0.0;
  int64_t top5_hits = 0;
  data::Batch batch;
  loader.start_epoch(0);
  while (loader.next(batch)) {
    const Tensor logits = graph.forward(ctx, batch.images, /*training=*/false, /*step=*/0);
    loss_sum += static_cast<double>(
                    ops::cross_entropy_forward_backward(ctx, logits, batch.labels, nullptr, {})) *
                static_cast<double>(batch.size);
    Tensor pred = predicted.slice(0, batch.size);
    ops::argmax_rows(ctx, logits, pred);
    if (with_top5) top5_hits += ops::count_correct_topk(ctx, logits, batch.labels, 5);
    const std::vector<int32_t> labels = batch.labels.to_int_vector();
    const std::vector<int32_t> preds = pred.to_int_vector();
    r.confusion.add(labels.data(), preds.data(), batch.size);
    if (r.misclassified.size() < EvalResult::kMaxMisclassified) {
      const std::vector<float> z = logits.to_vector();
      const std::vector<int32_t> index = batch.indices.to_int_vector();
      for (int64_t i = 0; i < batch.size && r.misclassified.size() < EvalResult::kMaxMisclassified;
           ++i) {
        const size_t row = static_cast<size_t>(i);
        if (labels[row] == preds[row]) continue;
        // Softmax probability of the prediction, from the row's logits (stable form).
        const float* zr = z.data() + row * static_cast<size_t>(classes);
        double denom = 0.0;
        for (int k = 0; k < classes; ++k) denom += std::exp(double(zr[k]) - double(zr[preds[row]]));
        r.misclassified.push_back({index[row], labels[row], preds[row], 1.0 / denom});
      }
    }
    r.samples += batch.size;
  }
  KESTREL_CHECK(r.samples > 0, "evaluate: the evaluation set is empty");
  r.loss = loss_sum / static_cast<double>(r.samples);
  r.top1 = r.confusion.accuracy();
  if (with_top5) r.top5 = static_cast<double>(top5_hits) / static_cast<double>(r.samples);
  r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return r;
}

nlohmann::json EvalResult::misclassified_json() const {
  nlohmann::json j = nlohmann::json::array();
  for (const Misclassified& m : misclassified)
    j.push_back({{"index", m.index},
                 {"label", m.label},
                 {"predicted", m.predicted},
                 {"confidence", m.confidence}});
  return j;
}

nlohmann::json EvalResult::to_json(const std::vector<std::string>& class_names) const {
  nlohmann::json j;
  j["loss"] = loss;
  j["top1"] = top1;
  if (top5 >= 0.0) j["top5"] = top5;
  j["macro_f1"] = confusion.macro_f1();
  j["samples"] = samples;
  nlohmann::json per_class = nlohmann::json::array();
  const auto scores = confusion.per_class();
  for (size_t k = 0; k < scores.size(); ++k) {
    per_class.push_back({{"class", k < class_names.size() ? class_names[k] : std::to_string(k)},
                         {"precision", scores[k].precision},
                         {"recall", scores[k].recall},
                         {"f1", scores[k].f1},
                         {"support", scores[k].support}});
  }
  j["per_class"] = per_class;
  nlohmann::json matrix = nlohmann::json::array();
  for (int t = 0; t < confusion.classes(); ++t) {
    nlohmann::json row = nlohmann::json::array();
    for (int p = 0; p < confusion.classes(); ++p) row.push_back(confusion.count(t, p));
    matrix.push_back(row);
  }
  j["confusion"] = matrix;
  return j;
}

}  // namespace kestrel::train
