#pragma once
// A run directory read back for the report: config.json, every epoch of metrics.jsonl (and a
// divergence event if the run stopped on a non-finite loss), the final evaluation's per-class
// scores and confusion matrix, misclassified.json, and the version and commit of the build
// that trained it (from the checkpoint's metadata).
#include <cstdint>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

namespace kestrel::report {

struct EpochRecord {
  int64_t epoch = 0, step = 0;
  double lr = 0.0;
  double train_loss = 0.0, train_accuracy = 0.0, images_per_second = 0.0, train_seconds = 0.0;
  double eval_loss = 0.0, top1 = 0.0, top5 = -1.0, macro_f1 = 0.0, eval_seconds = 0.0;
  int64_t eval_samples = 0;
  bool best = false;
};

struct ClassScoreRow {
  std::string name;
  double precision = 0.0, recall = 0.0, f1 = 0.0;
  int64_t support = 0;
};

struct MisclassifiedImage {
  int64_t index = 0;  // in the test split
  int32_t label = 0, predicted = 0;
  double confidence = 0.0;
};

struct Divergence {
  int64_t epoch = 0, step = 0;
  std::string loss;  // "nan" or "inf"
  double lr = 0.0;
};

// When a run first reached a test top-1: the epoch and the training time up to its end.
struct TimeToAccuracy {
  int64_t epoch = 0;
  double train_seconds = 0.0;  // the epochs' training steps, evaluation left out
};

struct RunRecord {
  std::filesystem::path dir;
  std::string name;       // config.json's name, else the folder's
  nlohmann::json config;  // an empty object when config.json is missing
  bool has_config = false;
  std::vector<EpochRecord> epochs;
  std::optional<Divergence> divergence;
  // Of the last completed epoch's evaluation:
  std::vector<ClassScoreRow> per_class;
  std::vector<std::vector<int64_t>> confusion;  // [true][predicted]
  bool has_misclassified = false;
  std::vector<MisclassifiedImage> misclassified;
  std::map<std::string, std::string> build;  // "version", "commit" of the training build

  std::string model() const;    // "" when unknown
  std::string dataset() const;  // "" when unknown
  std::string device() const;   // the device it ran on (device_resolved), else as requested
  std::vector<std::string> class_names() const;
  const EpochRecord* best_epoch() const;  // highest top-1 (first on ties); null without epochs
  double median_images_per_second() const;
  double median_train_seconds() const;  // per epoch
  double total_seconds() const;         // training and evaluation, summed over epochs
  // config.json's target_top1 (`train --target-accuracy`), 0 when the run had none.
  double target_top1() const;
  // The first epoch whose test top-1 is at least `top1`; nullopt when none is.
  std::optional<TimeToAccuracy> time_to(double top1) const;
};

// Reads `dir`. A missing, unreadable or malformed metrics.jsonl (or one without any record),
// a malformed config.json or misclassified.json throw kestrel::Error naming the file. A missing
// config.json or misclassified.json is allowed: the report says what it lacks.
RunRecord load_run(const std::filesystem::path& dir);

// The "__metadata__" of a safetensors file's header without reading its tensors; empty when the
// file is missing or its header unreadable.
std::map<std::string, std::string> read_safetensors_metadata(const std::filesystem::path& file);

}  // namespace kestrel::report
