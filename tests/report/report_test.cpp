// The whole report on run directories the test writes: a run on the generated "synthetic" data
// set (so its misclassified images render without files), every section present, every epoch's
// values in the charts' tooltips, nothing fetched from the network, no script; several runs
// compared; missing or corrupt files.
#include "engine/report/report.hpp"

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <regex>
#include <string>
#include <vector>

#include "apps/commands/model_summarizer.hpp"
#include "engine/core/version.hpp"
#include "engine/report/run_record.hpp"
#include "engine/report/svg_chart.hpp"
#include "kernels/common/error.hpp"
#include "tests/support/scratch_dir.hpp"
#include "tests/support/text.hpp"

namespace kestrel::report {
namespace {

namespace fs = std::filesystem;

using test::count_occurrences;

struct FakeEpoch {
  double lr, train_loss, train_accuracy, images_per_second, eval_loss, top1, top5, macro_f1;
};

// Three epochs of a 10-class run; values chosen so that each is recognisable in the output.
const std::vector<FakeEpoch> kEpochs = {
    {0.00123, 1.234, 0.6012, 1111.0, 0.8765, 0.7123, 0.9321, 0.7011},
    {0.00234, 0.5432, 0.8234, 2222.0, 0.4321, 0.8456, 0.9654, 0.8399},
    {0.00056, 0.3141, 0.9123, 3333.0, 0.2718, 0.9012, 0.9876, 0.8987}};

std::vector<std::string> class_names(bool hostile) {
  std::vector<std::string> names;
  for (int k = 0; k < 10; ++k) names.push_back(std::to_string(k));
  if (hostile) {
    names[0] = "T-shirt/top";
    names[1] = "<script>alert(1)</script>";
  }
  return names;
}

nlohmann::json eval_json(const FakeEpoch& e, const std::vector<std::string>& names) {
  nlohmann::json per_class = nlohmann::json::array();
  nlohmann::json confusion = nlohmann::json::array();
  for (int t = 0; t < 10; ++t) {
    nlohmann::json row = nlohmann::json::array();
    for (int p = 0; p < 10; ++p) row.push_back(t == p ? 90 : (p == (t + 1) % 10 ? 10 : 0));
    confusion.push_back(row);
    per_class.push_back({{"class", names[static_cast<size_t>(t)]},
                         {"precision", 0.9},
                         {"recall", 0.9},
                         {"f1", 0.9 - 0.01 * t},
                         {"support", 100}});
  }
  return {{"loss", e.eval_loss},    {"top1", e.top1},  {"top5", e.top5},
          {"macro_f1", e.macro_f1}, {"samples", 1000}, {"per_class", per_class},
          {"confusion", confusion}, {"seconds", 0.5}};
}

// A run directory as the trainer leaves it (no checkpoints).
fs::path write_run(const std::string& root, const std::string& name, const std::string& dataset,
                   bool hostile_names = false, size_t epochs = 3) {
  const fs::path dir = fs::path(root) / name;
  fs::create_directories(dir);
  const auto names = class_names(hostile_names);
  nlohmann::json config = {{"model", "lenet5"},  {"dataset", dataset},   {"epochs", 3},
                           {"batch", 64},        {"optimizer", "adamw"}, {"lr", 0.003},
                           {"seed", 7},          {"device", "auto"},     {"device_resolved", "cpu"},
                           {"data_dir", "data"}, {"name", name}};
  std::ofstream(dir / "config.json") << config.dump(2) << "\n";
  std::ofstream metrics(dir / "metrics.jsonl");
  for (size_t i = 0; i < epochs; ++i) {
    const FakeEpoch& e = kEpochs[i];
    const nlohmann::json record = {{"epoch", i + 1},
                                   {"step", 100 * (i + 1)},
                                   {"lr", e.lr},
                                   {"train",
                                    {{"loss", e.train_loss},
                                     {"accuracy", e.train_accuracy},
                                     {"images_per_second", e.images_per_second},
                                     {"seconds", 10.0}}},
                                   {"eval", eval_json(e, names)},
                                   {"best", true}};
    metrics << record.dump() << "\n";
  }
  // Misclassified: synthetic test images have label (6000 + index) % 10.
  nlohmann::json wrong = nlohmann::json::array();
  for (int index : {3, 17, 42, 999}) {
    const int label = (6000 + index) % 10;
    wrong.push_back({{"index", index},
                     {"label", label},
                     {"predicted", (label + 1) % 10},
                     {"confidence", 0.75}});
  }
  std::ofstream(dir / "misclassified.json") << wrong.dump() << "\n";
  return dir;
}

ReportOptions options_with_models() {
  ReportOptions o;
  o.summarize_model = apps::model_summarizer();
  o.generated_at = "2025-01-01 00:00 UTC";
  return o;
}

std::string render(const std::vector<fs::path>& dirs, const ReportOptions& options) {
  std::vector<RunRecord> runs;
  for (const auto& d : dirs) runs.push_back(load_run(d));
  return render_report(runs, options);
}

TEST(Report, SingleRunHasEverySection) {
  test::ScratchDir scratch;
  const fs::path dir = write_run(scratch.path(), "synthetic-run", "synthetic");
  const fs::path out = dir / "report.html";
  write_report({dir}, out, options_with_models());
  const std::string html = test::read_file(out.string());
  EXPECT_EQ(html.rfind("<!DOCTYPE html>", 0), 0u);
  EXPECT_EQ(scratch.listing().size(), 1u);
  EXPECT_FALSE(fs::exists(out.string() + ".tmp"));

  for (const char* id : {"id=\"overview\"", "id=\"curves\"", "id=\"chart-loss\"",
                         "id=\"chart-accuracy\"", "id=\"chart-lr\"", "id=\"chart-throughput\"",
                         "id=\"run-1\"", "id=\"run-1-evaluation\"", "id=\"run-1-confusion\"",
                         "id=\"run-1-per-class\"", "id=\"run-1-epochs\"", "id=\"run-1-model\"",
                         "id=\"run-1-misclassified\"", "id=\"run-1-config\"", "id=\"environment\""})
    EXPECT_EQ(count_occurrences(html, id), 1u) << id;

  // The model summary, rebuilt by name for the synthetic images at the run's batch.
  EXPECT_NE(html.find("lenet5 on synthetic (1x28x28, 10 classes), batch 64"), std::string::npos);
  EXPECT_NE(html.find("44,426"), std::string::npos);
  EXPECT_NE(html.find(">conv1<"), std::string::npos);
  // Four misclassified images, embedded, with their labels.
  EXPECT_EQ(count_occurrences(html, "<img src=\"data:image/png;base64,"), 4u);
  EXPECT_NE(html.find("#999<br><span class=\"true\">true 9</span><br><span class=\"pred\">"
                      "pred. 0</span><br>75.0% sure"),
            std::string::npos);
  // Configuration and environment.
  EXPECT_NE(html.find("device it ran on</td><td>cpu"), std::string::npos);
  EXPECT_NE(html.find("adamw"), std::string::npos);
  EXPECT_NE(html.find(commit()), std::string::npos);
  // The heatmap's counts and the most frequent confusion.
  EXPECT_NE(html.find(">90</text>"), std::string::npos);
  EXPECT_NE(html.find("Most frequent confusions"), std::string::npos);
}

TEST(Report, EveryEpochValueIsInTheCharts) {
  test::ScratchDir scratch;
  const std::string html =
      render({write_run(scratch.path(), "r", "synthetic")}, options_with_models());
  for (size_t i = 0; i < kEpochs.size(); ++i) {
    const FakeEpoch& e = kEpochs[i];
    const int epoch = static_cast<int>(i) + 1;
    for (const std::string& tip :
         {fmt::format("train: epoch {}, {:.4g}<", epoch, e.train_loss),
          fmt::format("test: epoch {}, {:.4g}<", epoch, e.eval_loss),
          fmt::format("train: epoch {}, {:.4g}%<", epoch, 100 * e.train_accuracy),
          fmt::format("test top-1: epoch {}, {:.4g}%<", epoch, 100 * e.top1),
          fmt::format("test top-5: epoch {}, {:.4g}%<", epoch, 100 * e.top5),
          fmt::format("learning rate: epoch {}, {:.4g}<", epoch, e.lr),
          fmt::format("training: epoch {}, {:.4g} img/s<", epoch, e.images_per_second)})
      EXPECT_NE(html.find(tip), std::string::npos) << tip;
  }
  // Each chart: one polyline per series with three points.
  const std::regex points("<polyline[^>]*points=\"([^\"]*)\"");
  size_t lines = 0;
  for (auto it = std::sregex_iterator(html.begin(), html.end(), points);
       it != std::sregex_iterator(); ++it, ++lines)
    EXPECT_EQ(count_occurrences((*it)[1], ","), 3u);
  EXPECT_EQ(lines, 2u + 3u + 1u + 2u);  // loss, accuracy, lr, throughput
}

TEST(Report, SelfContainedWithoutScripts) {
  test::ScratchDir scratch;
  const std::string html =
      render({write_run(scratch.path(), "r", "synthetic", true)}, options_with_models());
  EXPECT_EQ(html.find("http://"), std::string::npos);
  EXPECT_EQ(html.find("https://"), std::string::npos);
  EXPECT_EQ(html.find("<script"), std::string::npos);
  EXPECT_EQ(html.find("<link"), std::string::npos);
  EXPECT_EQ(html.find("@import"), std::string::npos);
  EXPECT_EQ(html.find("url("), std::string::npos);
  EXPECT_EQ(html.find(" on"
                      "load="),
            std::string::npos);
  // Every image source is embedded.
  const std::regex src("src=\"([^\"]*)\"");
  for (auto it = std::sregex_iterator(html.begin(), html.end(), src); it != std::sregex_iterator();
       ++it)
    EXPECT_EQ(std::string((*it)[1]).rfind("data:image/png;base64,", 0), 0u);
  // Hostile class names arrive escaped, in the table, the heatmap and the gallery.
  EXPECT_NE(html.find("&lt;script&gt;alert(1)&lt;/script&gt;"), std::string::npos);
  EXPECT_NE(html.find(">T-shirt/top<"), std::string::npos);
}

TEST(Report, MissingDataIsSaidInItsSection) {
  test::ScratchDir scratch;
  const fs::path dir = write_run(scratch.path(), "mnist-run", "mnist");
  ReportOptions o = options_with_models();
  o.data_dir = scratch.file("no-such-data");
  const std::string html = render({dir}, o);
  EXPECT_EQ(count_occurrences(html, "<img "), 0u);
  EXPECT_NE(html.find("4 test images were misclassified, but the images cannot be shown: MNIST "
                      "not found in"),
            std::string::npos);
  // The rest of the report is still there.
  EXPECT_NE(html.find("id=\"chart-loss\""), std::string::npos);
  EXPECT_NE(html.find("lenet5 on mnist (1x28x28, 10 classes), batch 64"), std::string::npos);
}

TEST(Report, WithoutAModelRegistryTheSummarySaysSo) {
  test::ScratchDir scratch;
  ReportOptions o;
  o.data_dir = scratch.path();
  const std::string html = render({write_run(scratch.path(), "r", "synthetic")}, o);
  EXPECT_NE(html.find("No model summary: this report was written without access to the model "
                      "registry."),
            std::string::npos);
  EXPECT_EQ(count_occurrences(html, "<img src=\"data:image/png;base64,"), 4u);
}

TEST(Report, SeveralRunsAreCompared) {
  test::ScratchDir scratch;
  const fs::path a = write_run(scratch.path(), "run-alpha", "synthetic");
  const fs::path b = write_run(scratch.path(), "run-beta", "synthetic", false, 2);
  const fs::path out = fs::path(scratch.path()) / "compare" / "report.html";
  write_report({a, b}, out, options_with_models());
  const std::string html = test::read_file(out.string());
  EXPECT_NE(html.find("2 runs compared"), std::string::npos);
  EXPECT_NE(html.find("<table class=\"comparison\">"), std::string::npos);
  EXPECT_NE(html.find("<a href=\"#run-1\">run-alpha</a>"), std::string::npos);
  EXPECT_NE(html.find("<a href=\"#run-2\">run-beta</a>"), std::string::npos);
  // Best top-1 of each run: 90.12% after three epochs, 84.56% after two.
  EXPECT_NE(html.find("90.12% <span class=\"muted\">(ep. 3)"), std::string::npos);
  EXPECT_NE(html.find("84.56% <span class=\"muted\">(ep. 2)"), std::string::npos);
  // Overlaid curves, named by run, one colour per run.
  EXPECT_NE(html.find("data-series=\"run-alpha \u00b7 test\""), std::string::npos);
  EXPECT_NE(html.find("data-series=\"run-beta \u00b7 test\""), std::string::npos);
  EXPECT_NE(html.find("data-series=\"run-beta\" stroke=\"" + series_colour(1) + "\""),
            std::string::npos);
  for (const char* id :
       {"id=\"run-1\"", "id=\"run-2\"", "id=\"run-1-confusion\"", "id=\"run-2-confusion\""})
    EXPECT_EQ(count_occurrences(html, id), 1u) << id;
}

// A run trained with `train --target-accuracy`: its config.json says the target.
void set_target(const fs::path& dir, double top1) {
  nlohmann::json config = nlohmann::json::parse(test::read_file((dir / "config.json").string()));
  config["target_top1"] = top1;
  std::ofstream(dir / "config.json") << config.dump(2) << "\n";
}

TEST(Report, TimeToTargetAccuracy) {
  // Test top-1 71.23%, 84.56%, 90.12% after epochs of 10 s of training each.
  test::ScratchDir scratch;
  const fs::path reached = write_run(scratch.path(), "reached", "synthetic");
  const fs::path missed = write_run(scratch.path(), "missed", "synthetic");
  const fs::path plain = write_run(scratch.path(), "plain", "synthetic");
  set_target(reached, 0.8);
  set_target(missed, 0.95);

  const RunRecord run = load_run(reached);
  EXPECT_DOUBLE_EQ(run.target_top1(), 0.8);
  EXPECT_DOUBLE_EQ(load_run(plain).target_top1(), 0.0);
  const auto at = [&](double top1) { return run.time_to(top1); };
  ASSERT_TRUE(at(0.8).has_value());
  EXPECT_EQ(at(0.8)->epoch, 2);
  EXPECT_DOUBLE_EQ(at(0.8)->train_seconds, 20.0);
  ASSERT_TRUE(at(0.7123).has_value());  // reaching it exactly counts
  EXPECT_EQ(at(0.7123)->epoch, 1);
  EXPECT_DOUBLE_EQ(at(0.7123)->train_seconds, 10.0);
  EXPECT_EQ(at(0.9012)->epoch, 3);
  EXPECT_DOUBLE_EQ(at(0.9012)->train_seconds, 30.0);
  EXPECT_FALSE(at(0.95).has_value());

  const std::string single = render({reached}, options_with_models());
  EXPECT_NE(single.find("20.0 s</div><div class=\"label\">training to 80.00% top-1 (epoch 2)"),
            std::string::npos);
  EXPECT_NE(render({missed}, options_with_models())
                .find("not reached</div><div class=\"label\">target: 95.00% top-1"),
            std::string::npos);
  EXPECT_EQ(render({plain}, options_with_models()).find("training to"), std::string::npos);

  const std::string compared = render({reached, missed, plain}, options_with_models());
  EXPECT_NE(compared.find(">time to target</th>"), std::string::npos);
  EXPECT_NE(compared.find("20.0 s to 80.00% <span class=\"muted\">(ep. 2)"), std::string::npos);
  EXPECT_NE(compared.find("95.00% not reached"), std::string::npos);
  const std::string untargeted =
      render({plain, write_run(scratch.path(), "plain2", "synthetic")}, options_with_models());
  EXPECT_EQ(untargeted.find("time to target"), std::string::npos);
}

TEST(Report, DivergedRunIsReported) {
  test::ScratchDir scratch;
  const fs::path dir = write_run(scratch.path(), "r", "synthetic", false, 1);
  std::ofstream(dir / "metrics.jsonl", std::ios::app)
      << R"({"event":"diverged","epoch":2,"step":150,"loss":"nan","lr":0.5})"
      << "\n";
  const std::string html = render({dir}, options_with_models());
  EXPECT_NE(html.find("The run stopped at epoch 2, step 150: the training loss became nan"),
            std::string::npos);
  EXPECT_NE(html.find("test top-1: epoch 1,"), std::string::npos);
}

void expect_error_naming(const fs::path& dir, const std::string& file, const std::string& what) {
  try {
    load_run(dir);
    FAIL() << "expected kestrel::Error for " << file;
  } catch (const Error& e) {
    const std::string message = e.message();
    EXPECT_NE(message.find(file), std::string::npos) << message;
    EXPECT_NE(message.find(what), std::string::npos) << message;
  }
}

TEST(Report, MissingOrCorruptMetricsNameTheFile) {
  test::ScratchDir scratch;
  const fs::path dir = write_run(scratch.path(), "r", "synthetic");
  const std::string metrics = (dir / "metrics.jsonl").string();

  fs::remove(dir / "metrics.jsonl");
  expect_error_naming(dir, metrics, "not found");

  test::write_file(metrics, "{\"epoch\": 1, \"train\": {\"loss\": 0.5}}\n{broken\n");
  expect_error_naming(dir, metrics, "line 2");

  test::write_file(metrics, "{\"epoch\": 1, \"train\": {\"loss\": 0.5}}\n");
  expect_error_naming(dir, metrics, "record 1 is malformed");

  test::write_file(metrics, "");
  expect_error_naming(dir, metrics, "holds no records");

  expect_error_naming(fs::path(scratch.path()) / "absent", "absent", "not found");

  // The failed report leaves no file behind.
  const fs::path out = fs::path(scratch.path()) / "out.html";
  EXPECT_THROW(write_report({dir}, out, options_with_models()), Error);
  EXPECT_FALSE(fs::exists(out));
}

TEST(Report, CorruptConfigOrMisclassifiedNameTheFile) {
  test::ScratchDir scratch;
  const fs::path dir = write_run(scratch.path(), "r", "synthetic");
  test::write_file((dir / "misclassified.json").string(), "[{\"index\": 1}]");
  expect_error_naming(dir, (dir / "misclassified.json").string(), "malformed");
  test::write_file((dir / "misclassified.json").string(),
                   "[{\"index\": 1, \"label\": 12, \"predicted\": 0, \"confidence\": 0.5}]");
  expect_error_naming(dir, (dir / "misclassified.json").string(), "outside [0, 10)");
  fs::remove(dir / "misclassified.json");
  test::write_file((dir / "config.json").string(), "{\"model\": ");
  expect_error_naming(dir, (dir / "config.json").string(), "not valid JSON");
  // Both may be missing: the report says so.
  fs::remove(dir / "config.json");
  const std::string html = render({dir}, options_with_models());
  EXPECT_NE(html.find("has no config.json"), std::string::npos);
  EXPECT_NE(html.find("has no misclassified.json"), std::string::npos);
  EXPECT_NE(html.find("config.json does not name the model and data set."), std::string::npos);
}

TEST(Report, ReadsBuildFromCheckpointMetadata) {
  test::ScratchDir scratch;
  const fs::path dir = write_run(scratch.path(), "r", "synthetic");
  // A minimal safetensors file: header length, header, no tensors.
  const std::string header =
      R"({"__metadata__":{"kestrel.version":"9.8.7","kestrel.commit":"abc123def456"}})";
  std::string file(8, '\0');
  for (int i = 0; i < 8; ++i)
    file[static_cast<size_t>(i)] = static_cast<char>((header.size() >> (8 * i)) & 0xff);
  test::write_file((dir / "last.safetensors").string(), file + header);
  const RunRecord run = load_run(dir);
  EXPECT_EQ(run.build.at("version"), "9.8.7");
  EXPECT_EQ(run.build.at("commit"), "abc123def456");
  // A truncated header gives nothing rather than an error.
  test::write_file((dir / "last.safetensors").string(), file + header.substr(0, 10));
  EXPECT_TRUE(read_safetensors_metadata(dir / "last.safetensors").empty());
}

}  // namespace
}  // namespace kestrel::report
