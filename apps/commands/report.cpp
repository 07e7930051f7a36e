#include "apps/commands/report.hpp"

#include <fmt/format.h>

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "apps/commands/model_summarizer.hpp"
#include "engine/report/markdown.hpp"
#include "engine/report/report.hpp"
#include "engine/run/run_directory.hpp"
#include "kernels/common/error.hpp"

namespace kestrel::apps {

namespace {

struct ReportFlags {
  std::vector<std::string> run_dirs;
  std::string out;
  std::string data_dir;  // empty: each run's own
  std::string markdown;  // empty: no Markdown tables
};

void run_report(const ReportFlags& f) {
  std::vector<std::filesystem::path> dirs(f.run_dirs.begin(), f.run_dirs.end());
  const std::filesystem::path out = !f.out.empty()     ? std::filesystem::path(f.out)
                                    : dirs.size() == 1 ? dirs[0] / run::kReportFile
                                                       : std::filesystem::path(run::kReportFile);
  report::ReportOptions options;
  options.data_dir = f.data_dir;
  options.summarize_model = model_summarizer();
  report::write_report(dirs, out, options);
  fmt::print("report: {}\n", out.string());
  if (!f.markdown.empty()) {
    report::write_markdown(dirs, f.markdown, options);
    fmt::print("tables: {}\n", f.markdown);
  }
}

}  // namespace

void write_run_report(const std::string& run_dir, const std::string& data_dir) {
  const std::filesystem::path out = std::filesystem::path(run_dir) / run::kReportFile;
  try {
    report::write_report({run_dir}, out, {data_dir, model_summarizer(), ""});
    fmt::print("report: {}\n", out.string());
  } catch (const Error& e) {
    fmt::print(stderr, "kestrel: warning: report not written: {}\n",
               e.message().empty() ? e.what() : e.message());
  }
}

void register_report_command(CLI::App& app) {
  auto f = std::make_shared<ReportFlags>();
  auto* cmd = app.add_subcommand(
      "report",
      "Write an HTML report of a run (curves, confusion matrix, misclassified images), "
      "or compare several runs");
  cmd->add_option("run_dirs", f->run_dirs, "Run directories (holding metrics.jsonl)")
      ->required()
      ->expected(1, -1);
  cmd->add_option("--out", f->out,
                  "Output file (default: RUN_DIR/report.html for one run, ./report.html for "
                  "several)");
  cmd->add_option("--data-dir", f->data_dir,
                  "Where the test images are (default: the folder each run was trained from)");
  cmd->add_option("--markdown", f->markdown,
                  "Also write Markdown tables of the runs (results, accuracy per epoch, "
                  "architectures, hardest classes) to this file");
  cmd->callback([f] { run_report(*f); });
}

}  // namespace kestrel::apps
