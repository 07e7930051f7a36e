// `kestrel report --markdown`: the tables docs/lab.md quotes. Runs are built in memory with
// values chosen so each is recognisable; the architecture rows come from the real model
// registry and are checked against counts worked out by hand from the layer shapes.
#include "engine/report/markdown.hpp"

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <string>
#include <vector>

#include "apps/commands/model_summarizer.hpp"
#include "kernels/common/error.hpp"
#include "tests/support/scratch_dir.hpp"
#include "tests/support/text.hpp"

namespace kestrel::report {
namespace {

using test::count_occurrences;

// The table row of `text` that starts with "| first |".
std::string row_of(const std::string& text, const std::string& first) {
  const size_t at = text.find("| " + first + " |");
  if (at == std::string::npos) return "";
  return text.substr(at, text.find('\n', at) - at);
}

RunRecord make_run(const std::string& name, const std::string& model, const std::string& dataset,
                   const std::vector<double>& top1, const std::vector<double>& seconds) {
  RunRecord run;
  run.name = name;
  run.config = {{"model", model},
                {"dataset", dataset},
                {"batch", 128},
                {"device", "auto"},
                {"device_resolved", "cpu"}};
  run.has_config = true;
  for (size_t e = 0; e < top1.size(); ++e) {
    EpochRecord r;
    r.epoch = static_cast<int64_t>(e + 1);
    r.top1 = top1[e];
    r.top5 = 0.99;
    r.macro_f1 = top1[e] - 0.01;
    r.train_seconds = seconds[e];
    r.images_per_second = 1000.0 * static_cast<double>(e + 1);
    run.epochs.push_back(r);
  }
  run.build = {{"version", "0.1.0"}, {"commit", "abc1234"}};
  return run;
}

// Three classes: a, b, c. Row t is the true class.
void add_evaluation(RunRecord& run) {
  run.confusion = {{80, 15, 5}, {2, 96, 2}, {30, 0, 70}};
  run.per_class = {{"a", 80.0 / 112, 0.80, 0.0, 100},
                   {"b", 96.0 / 111, 0.96, 0.0, 100},
                   {"c", 70.0 / 77, 0.70, 0.0, 100}};
}

ReportOptions with_models() {
  ReportOptions options;
  options.summarize_model = apps::model_summarizer();
  return options;
}

TEST(ReportMarkdown, RunsTableQuotesTheMeasuredNumbers) {
  RunRecord run = make_run("first", "lenet5", "mnist", {0.9, 0.95, 0.93}, {10.0, 30.0, 20.0});
  const std::string md = render_markdown({run}, ReportOptions{});
  const std::string row = row_of(md, "first");
  ASSERT_FALSE(row.empty()) << md;
  EXPECT_NE(row.find("| lenet5 | mnist | 3 | 128 | cpu |"), std::string::npos) << row;
  EXPECT_NE(row.find("| 20.0 s |"), std::string::npos) << row;  // median time per epoch
  EXPECT_NE(row.find("| 2,000 |"), std::string::npos) << row;   // median images/s
  EXPECT_NE(row.find("| 93.00% | 95.00% (2) |"), std::string::npos) << row;  // last, best
  EXPECT_NE(row.find("| 99.00% | 0.9200 | abc1234 |"), std::string::npos) << row;
}

TEST(ReportMarkdown, LongEpochsAreGivenInMinutes) {
  RunRecord run = make_run("slow", "alexnet", "cifar10", {0.5, 0.6}, {1000.0, 1100.0});
  EXPECT_NE(row_of(render_markdown({run}, {}), "slow").find("| 17.5 min |"), std::string::npos);
}

TEST(ReportMarkdown, AccuracyPerEpochAlignsRunsOfDifferentLengths) {
  const std::string md =
      render_markdown({make_run("long", "lenet5", "mnist", {0.1, 0.2, 0.3}, {1, 1, 1}),
                       make_run("short", "alexnet", "cifar10", {0.4}, {1})},
                      {});
  EXPECT_NE(md.find("| epoch | long | short |"), std::string::npos) << md;
  EXPECT_NE(md.find("| 1 | 10.00% | 40.00% |"), std::string::npos) << md;
  EXPECT_NE(md.find("| 3 | 30.00% |  |"), std::string::npos) << md;
}

TEST(ReportMarkdown, HardestClassesAreOrderedByRecallAndCount) {
  RunRecord run = make_run("eval", "lenet5", "mnist", {0.82}, {1.0});
  add_evaluation(run);
  const std::string md = render_markdown({run}, {});
  // Recalls 0.80, 0.96, 0.70: c first, then a, then b.
  EXPECT_NE(md.find("Lowest recall: c (recall 70.00%, precision 90.91%), a (recall 80.00%, "
                    "precision 71.43%), b (recall 96.00%"),
            std::string::npos)
      << md;
  // 54 errors: c->a 30, a->b 15, a->c 5, b->a 2, b->c 2 (ties keep matrix order).
  const size_t first = md.find("| c | a | 30 | 30.00% | 55.56% |");
  const size_t second = md.find("| a | b | 15 | 15.00% | 27.78% |");
  const size_t third = md.find("| a | c | 5 | 5.00% | 9.26% |");
  const size_t fourth = md.find("| b | a | 2 | 2.00% | 3.70% |");
  ASSERT_NE(first, std::string::npos) << md;
  ASSERT_NE(second, std::string::npos) << md;
  ASSERT_NE(third, std::string::npos) << md;
  ASSERT_NE(fourth, std::string::npos) << md;
  EXPECT_LT(first, second);
  EXPECT_LT(second, third);
  EXPECT_LT(third, fourth);
  EXPECT_EQ(count_occurrences(md, "| c | b |"), 0u);  // a zero cell is no confusion
  EXPECT_NE(md.find("54 test images misclassified in all."), std::string::npos);
}

TEST(ReportMarkdown, ArchitecturesComeFromTheModels) {
  const std::string md = render_markdown({make_run("l", "lenet5", "mnist", {0.9}, {1.0}),
                                          make_run("l2", "lenet5", "mnist", {0.9}, {1.0}),
                                          make_run("a", "alexnet", "cifar10", {0.5}, {1.0})},
                                         with_models());
  // LeNet-5 (lab): conv 1->6 5x5 on 28x28 (24x24 out), pool, conv 6->16 5x5 (8x8 out), pool,
  // 256->120->84->10.
  const int64_t lenet_params =
      (6 * 25 + 6) + (16 * 6 * 25 + 16) + (256 * 120 + 120) + (120 * 84 + 84) + (84 * 10 + 10);
  const int64_t lenet_macs = 6 * 24 * 24 * 25 + 16 * 8 * 8 * 150 + 256 * 120 + 120 * 84 + 84 * 10;
  ASSERT_EQ(lenet_params, 44426);
  const std::string lenet = row_of(md, "lenet5 (mnist)");
  EXPECT_NE(lenet.find("| 5 (2 conv + 3 linear) | 5x5 ×2 | max 2x2 stride 2 ×2 | ReLU | none | "
                       "none | 44,426 | " +
                       fmt::format("{:.2f} M", lenet_macs / 1e6) + " |"),
            std::string::npos)
      << lenet;
  // The same model and data set twice is described once.
  EXPECT_EQ(count_occurrences(md, "| lenet5 (mnist) |"), 1u);
  // AlexNet (lab): 3x3, 5x5, then three 3x3 convolutions; 3x3/2 max pools; two dropouts.
  const std::string alexnet = row_of(md, "alexnet (cifar10)");
  EXPECT_NE(alexnet.find("| 8 (5 conv + 3 linear) | 3x3 ×4, 5x5 | max 3x3 stride 2 ×3; adaptive "
                         "average | ReLU | 2 × p = 0.5 | none | 57,023,306 |"),
            std::string::npos)
      << alexnet;
}

TEST(ReportMarkdown, WithoutARegistryTheArchitecturesSayWhy) {
  const std::string md = render_markdown({make_run("r", "lenet5", "mnist", {0.9}, {1.0})}, {});
  EXPECT_NE(md.find("No model registry was available"), std::string::npos);
}

TEST(ReportMarkdown, PipesInNamesCannotBreakTheTable) {
  RunRecord run = make_run("a|b", "lenet5", "mnist", {0.9}, {1.0});
  const std::string md = render_markdown({run}, {});
  EXPECT_NE(md.find("| a\\|b | lenet5 |"), std::string::npos) << md;
}

TEST(ReportMarkdown, MissingRunDirectoryIsAnError) {
  test::ScratchDir scratch;
  const std::filesystem::path out = scratch.file("tables.md");
  try {
    write_markdown({scratch.file("nope")}, out, {});
    FAIL() << "expected kestrel::Error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("nope not found"), std::string::npos) << e.what();
  }
  EXPECT_FALSE(std::filesystem::exists(out));
}

}  // namespace
}  // namespace kestrel::report
