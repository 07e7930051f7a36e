#pragma once
// A run's directory, the one format shared by the layer that writes runs (engine/train) and the
// layers that read them (engine/report, the CLI): config.json (what was asked), metrics.jsonl
// (one JSON object per epoch or evaluation, appended and flushed as the run goes, so a crash
// loses nothing already written), misclassified.json, the checkpoints and the report. It sits
// below both so that the report reads runs without depending on the trainer, and the trainer
// writes them without knowing the report.
#include <cstdio>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

namespace kestrel::run {

// The files of a run directory.
inline constexpr std::string_view kConfigFile = "config.json";
inline constexpr std::string_view kMetricsFile = "metrics.jsonl";
// The last evaluation's first misclassified test images (index, label, prediction, confidence).
inline constexpr std::string_view kMisclassifiedFile = "misclassified.json";
inline constexpr std::string_view kLastCheckpoint = "last.safetensors";
inline constexpr std::string_view kBestCheckpoint = "best.safetensors";
inline constexpr std::string_view kReportFile = "report.html";

class RunDirectory {
 public:
  // Creates `root`/`name` (and parents). With resume, reopens an existing directory and appends
  // to its metrics; otherwise refuses to reuse a directory that already holds metrics.
  RunDirectory(const std::filesystem::path& root, const std::string& name, bool resume);
  ~RunDirectory();
  RunDirectory(const RunDirectory&) = delete;
  RunDirectory& operator=(const RunDirectory&) = delete;

  const std::filesystem::path& path() const { return path_; }
  std::filesystem::path file(std::string_view name) const { return path_ / name; }

  // Writes config.json atomically (temporary file, then rename).
  void write_config(const nlohmann::json& config) const;
  // Appends one line to metrics.jsonl and flushes it to the disk.
  void append_metrics(const nlohmann::json& record);

  // A default run name: "<model>-<dataset>-<UTC timestamp>".
  static std::string default_name(const std::string& model, const std::string& dataset);

 private:
  std::filesystem::path path_;
  std::FILE* metrics_ = nullptr;
};

// Reads every record of a metrics.jsonl file; a malformed line is an error naming the line.
std::vector<nlohmann::json> read_metrics(const std::filesystem::path& file);

// Writes `text` to `path` atomically: a temporary file beside it, fsync, rename.
void write_file_atomically(const std::filesystem::path& path, const std::string& text);

}  // namespace kestrel::run
