#pragma once
// Evaluation of a model over a whole split: loss, top-1 and top-5 accuracy, and the confusion
// matrix with everything it gives (per-class precision/recall/F1, macro-F1).
#include <nlohmann/json.hpp>

#include "engine/data/loader.hpp"
#include "engine/dist/communicator.hpp"
#include "engine/metrics/confusion_matrix.hpp"
#include "engine/nn/graph.hpp"
#include "engine/train/tta.hpp"

namespace kestrel::train {

// A test image the model got wrong, for the report's gallery.
struct Misclassified {
  int64_t index = 0;       // in the test split
  int32_t label = 0;       // the true class
  int32_t predicted = 0;
  double confidence = 0.0;  // softmax probability of the predicted class
};

struct EvalResult {
  double loss = 0.0;   // mean cross-entropy over the split (no label smoothing)
  double top1 = 0.0;   // accuracy
  double top5 = -1.0;  // -1 when the task has fewer than 10 classes
  int64_t samples = 0;
  metrics::ConfusionMatrix confusion{1};
  std::vector<Misclassified> misclassified;  // the first kMaxMisclassified, in test order
  double seconds = 0.0;

  static constexpr size_t kMaxMisclassified = 64;

  // {"loss", "top1", "top5"?, "macro_f1", "per_class": [...], "confusion": [[...]]}
  nlohmann::json to_json(const std::vector<std::string>& class_names) const;
  // [{"index", "label", "predicted", "confidence"}, ...]
  nlohmann::json misclassified_json() const;
};

// Runs `graph` in evaluation mode over every batch of `loader` (an evaluation loader). With
// test-time augmentation (`tta`, engine/train/tta.hpp) each batch runs once per view and the
// figures are those of the views' weighted mean logits.
//
// Data parallel: each rank evaluates its shard of the split (the loader's shard_rank of
// shard_count) and `comm` sums the shards' results, so every rank returns the whole split's
// figures: loss sum, sample and top-5 counts and the confusion matrix are summed, and the
// misclassified examples are gathered and merged by test index, so the first
// kMaxMisclassified are the same as one process finds.
EvalResult evaluate(const Context& ctx, nn::Graph& graph, data::BatchLoader& loader, int classes,
                    dist::Communicator* comm = nullptr, Tta tta = Tta::None);

}  // namespace kestrel::train
