#include "engine/report/run_record.hpp"

#include <algorithm>
#include <fstream>

#include "engine/run/run_directory.hpp"
#include "kernels/common/error.hpp"

namespace kestrel::report {

namespace fs = std::filesystem;

namespace {

nlohmann::json read_json_file(const fs::path& file) {
  std::ifstream in(file);
  KESTREL_CHECK(in.good(), "cannot read {}", file.string());
  try {
    return nlohmann::json::parse(in);
  } catch (const nlohmann::json::exception& e) {
    KESTREL_FAIL("{} is not valid JSON ({})", file.string(), e.what());
  }
}

EpochRecord parse_epoch(const nlohmann::json& r) {
  EpochRecord e;
  e.epoch = r.at("epoch").get<int64_t>();
  e.step = r.value("step", int64_t{0});
  e.lr = r.value("lr", 0.0);
  const auto& train = r.at("train");
  e.train_loss = train.at("loss").get<double>();
  e.train_accuracy = train.at("accuracy").get<double>();
  e.images_per_second = train.at("images_per_second").get<double>();
  e.train_seconds = train.value("seconds", 0.0);
  const auto& eval = r.at("eval");
  e.eval_loss = eval.at("loss").get<double>();
  e.top1 = eval.at("top1").get<double>();
  e.top5 = eval.value("top5", -1.0);
  e.macro_f1 = eval.at("macro_f1").get<double>();
  e.eval_samples = eval.value("samples", int64_t{0});
  e.eval_seconds = eval.value("seconds", 0.0);
  e.best = r.value("best", false);
  return e;
}

// The last epoch's per-class scores and confusion matrix, checked to be square and to agree.
void parse_final_evaluation(const nlohmann::json& eval, RunRecord& run) {
  run.per_class.clear();
  for (const auto& row : eval.at("per_class")) {
    run.per_class.push_back({row.at("class").get<std::string>(), row.at("precision").get<double>(),
                             row.at("recall").get<double>(), row.at("f1").get<double>(),
                             row.at("support").get<int64_t>()});
  }
  run.confusion = eval.at("confusion").get<std::vector<std::vector<int64_t>>>();
  const size_t n = run.confusion.size();
  for (const auto& row : run.confusion)
    KESTREL_CHECK(row.size() == n, "the confusion matrix is not square ({} rows, a row of {})", n,
                  row.size());
  KESTREL_CHECK(run.per_class.size() == n, "per_class has {} classes but the confusion matrix {}",
                run.per_class.size(), n);
}

}  // namespace

std::map<std::string, std::string> read_safetensors_metadata(const fs::path& file) {
  std::map<std::string, std::string> out;
  std::ifstream in(file, std::ios::binary);
  if (!in.good()) return out;
  unsigned char size_bytes[8] = {};
  if (!in.read(reinterpret_cast<char*>(size_bytes), 8)) return out;
  uint64_t size = 0;
  for (int i = 7; i >= 0; --i) size = (size << 8) | size_bytes[i];
  std::error_code ec;
  const auto file_size = fs::file_size(file, ec);
  if (ec || size == 0 || size > 100'000'000 || size > file_size - 8) return out;
  std::string header(static_cast<size_t>(size), '\0');
  if (!in.read(header.data(), static_cast<std::streamsize>(size))) return out;
  try {
    const auto j = nlohmann::json::parse(header);
    if (j.contains("__metadata__") && j["__metadata__"].is_object()) {
      for (const auto& [key, value] : j["__metadata__"].items())
        if (value.is_string()) out[key] = value.get<std::string>();
    }
  } catch (const nlohmann::json::exception&) {
    out.clear();
  }
  return out;
}

RunRecord load_run(const fs::path& dir) {
  RunRecord run;
  run.dir = dir;
  const fs::path metrics = dir / run::kMetricsFile;
  KESTREL_CHECK(fs::is_directory(dir), "run directory {} not found", dir.string());
  KESTREL_CHECK(fs::exists(metrics), "{} not found: {} is not a kestrel run directory",
                metrics.string(), dir.string());

  const fs::path config = dir / run::kConfigFile;
  if (fs::exists(config)) {
    run.config = read_json_file(config);
    KESTREL_CHECK(run.config.is_object(), "{} is not a JSON object", config.string());
    run.has_config = true;
  } else {
    run.config = nlohmann::json::object();
  }
  const fs::path folder = fs::absolute(dir).lexically_normal();
  run.name = run.config.value("name", "");
  if (run.name.empty())
    run.name = folder.has_filename() ? folder.filename().string()
                                     : folder.parent_path().filename().string();

  const std::vector<nlohmann::json> records = run::read_metrics(metrics);
  KESTREL_CHECK(!records.empty(), "{} holds no records: the run has not finished an epoch",
                metrics.string());
  const nlohmann::json* last_eval = nullptr;
  for (size_t i = 0; i < records.size(); ++i) {
    const nlohmann::json& r = records[i];
    try {
      KESTREL_CHECK(r.is_object(), "not a JSON object");
      if (r.contains("event")) {
        if (r["event"] == "diverged") {
          run.divergence = Divergence{r.value("epoch", int64_t{0}), r.value("step", int64_t{0}),
                                      r.value("loss", std::string("nan")), r.value("lr", 0.0)};
        }
        continue;
      }
      EpochRecord e = parse_epoch(r);
      // A resumed run may repeat an epoch it had started: the later record wins.
      while (!run.epochs.empty() && run.epochs.back().epoch >= e.epoch) run.epochs.pop_back();
      run.epochs.push_back(e);
      last_eval = &r.at("eval");
    } catch (const nlohmann::json::exception& e) {
      KESTREL_FAIL("{}: record {} is malformed ({})", metrics.string(), i + 1, e.what());
    } catch (const Error& e) {
      KESTREL_FAIL("{}: record {} is malformed ({})", metrics.string(), i + 1, e.message());
    }
  }
  if (last_eval != nullptr) {
    try {
      parse_final_evaluation(*last_eval, run);
    } catch (const nlohmann::json::exception& e) {
      KESTREL_FAIL("{}: the last evaluation is malformed ({})", metrics.string(), e.what());
    } catch (const Error& e) {
      KESTREL_FAIL("{}: the last evaluation is malformed ({})", metrics.string(), e.message());
    }
  }

  const fs::path wrong = dir / run::kMisclassifiedFile;
  if (fs::exists(wrong)) {
    const nlohmann::json list = read_json_file(wrong);
    try {
      KESTREL_CHECK(list.is_array(), "not a JSON array");
      const auto classes = static_cast<int32_t>(run.confusion.size());
      for (const auto& m : list) {
        MisclassifiedImage image{m.at("index").get<int64_t>(), m.at("label").get<int32_t>(),
                                 m.at("predicted").get<int32_t>(),
                                 m.at("confidence").get<double>()};
        KESTREL_CHECK(image.index >= 0, "negative index {}", image.index);
        KESTREL_CHECK(classes == 0 || (image.label >= 0 && image.label < classes &&
                                       image.predicted >= 0 && image.predicted < classes),
                      "image {}: class {} or {} is outside [0, {})", image.index, image.label,
                      image.predicted, classes);
        run.misclassified.push_back(image);
      }
    } catch (const nlohmann::json::exception& e) {
      KESTREL_FAIL("{} is malformed ({})", wrong.string(), e.what());
    } catch (const Error& e) {
      KESTREL_FAIL("{} is malformed ({})", wrong.string(), e.message());
    }
    run.has_misclassified = true;
  }

  for (const std::string_view checkpoint : {run::kLastCheckpoint, run::kBestCheckpoint}) {
    const auto metadata = read_safetensors_metadata(dir / checkpoint);
    if (auto it = metadata.find("kestrel.version"); it != metadata.end())
      run.build["version"] = it->second;
    if (auto it = metadata.find("kestrel.commit"); it != metadata.end())
      run.build["commit"] = it->second;
    if (!run.build.empty()) break;
  }
  return run;
}

std::string RunRecord::model() const { return config.value("model", ""); }
std::string RunRecord::dataset() const { return config.value("dataset", ""); }

std::string RunRecord::device() const {
  const std::string resolved = config.value("device_resolved", "");
  return resolved.empty() ? config.value("device", "") : resolved;
}

std::vector<std::string> RunRecord::class_names() const {
  std::vector<std::string> names;
  for (const auto& row : per_class) names.push_back(row.name);
  return names;
}

const EpochRecord* RunRecord::best_epoch() const {
  const EpochRecord* best = nullptr;
  for (const auto& e : epochs)
    if (best == nullptr || e.top1 > best->top1) best = &e;
  return best;
}

namespace {

// The median of an epoch field (0 without epochs).
double median_over_epochs(const std::vector<EpochRecord>& epochs, double EpochRecord::*field) {
  if (epochs.empty()) return 0.0;
  std::vector<double> v;
  for (const auto& e : epochs) v.push_back(e.*field);
  std::sort(v.begin(), v.end());
  const size_t m = v.size() / 2;
  return v.size() % 2 == 1 ? v[m] : (v[m - 1] + v[m]) / 2.0;
}

}  // namespace

double RunRecord::median_images_per_second() const {
  return median_over_epochs(epochs, &EpochRecord::images_per_second);
}

double RunRecord::median_train_seconds() const {
  return median_over_epochs(epochs, &EpochRecord::train_seconds);
}

double RunRecord::total_seconds() const {
  double s = 0.0;
  for (const auto& e : epochs) s += e.train_seconds + e.eval_seconds;
  return s;
}

double RunRecord::target_top1() const {
  const auto it = config.find("target_top1");
  return it != config.end() && it->is_number() ? it->get<double>() : 0.0;
}

std::optional<TimeToAccuracy> RunRecord::time_to(double top1) const {
  double seconds = 0.0;
  for (const auto& e : epochs) {
    seconds += e.train_seconds;
    if (e.top1 >= top1) return TimeToAccuracy{e.epoch, seconds};
  }
  return std::nullopt;
}

}  // namespace kestrel::report
