#include "engine/report/report.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <ctime>
#include <map>

#include "engine/core/version.hpp"
#include "engine/data/registry.hpp"
#include "engine/report/html.hpp"
#include "engine/report/run_charts.hpp"
#include "engine/report/run_sections.hpp"
#include "engine/run/run_directory.hpp"
#include "engine/runtime/gpu_info.hpp"
#include "kernels/common/error.hpp"
#include "kernels/cpu/gemm.hpp"
#include "kernels/cpu/parallel.hpp"

namespace kestrel::report {

namespace fs = std::filesystem;

namespace {

std::string utc_now() {
  const std::time_t now = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now());
  std::tm utc{};
  gmtime_r(&now, &utc);
  char stamp[32];
  std::strftime(stamp, sizeof(stamp), "%Y-%m-%d %H:%M UTC", &utc);
  return stamp;
}

std::string error_text(const Error& e) { return e.message().empty() ? e.what() : e.message(); }

// Test splits read once per (data set, folder), shared by the runs that use them.
struct TestImages {
  data::ImageDataset images;
  std::string error;
  bool loaded = false;
};

std::string run_heading(const std::vector<RunRecord>& runs, size_t r) {
  return runs.size() == 1 ? escape_html(runs[r].name)
                          : fmt::format("Run {}: {}", r + 1, escape_html(runs[r].name));
}

std::string overview_single(const RunRecord& run, const RunContext& context) {
  std::string out = "<div class=\"cards\">";
  if (const EpochRecord* best = run.best_epoch()) {
    const EpochRecord& last = run.epochs.back();
    out += fmt::format(
        "<div class=\"card\"><div class=\"value\">{}</div><div class=\"label\">"
        "best test top-1 (epoch {})</div></div>",
        percent(best->top1), best->epoch);
    out += fmt::format(
        "<div class=\"card\"><div class=\"value\">{:.4f}</div><div class=\"label\">"
        "final macro-F1</div></div>",
        last.macro_f1);
    out += fmt::format(
        "<div class=\"card\"><div class=\"value\">{}</div><div class=\"label\">"
        "training images/s (median)</div></div>",
        thousands(run.median_images_per_second()));
    out += fmt::format(
        "<div class=\"card\"><div class=\"value\">{}</div><div class=\"label\">"
        "time, {} epochs</div></div>",
        duration(run.total_seconds()), last.epoch);
    if (const double target = run.target_top1(); target > 0.0) {
      const auto reached = run.time_to(target);
      out += fmt::format(
          "<div class=\"card\"><div class=\"value\">{}</div><div class=\"label\">"
          "{}</div></div>",
          reached ? duration(reached->train_seconds) : "not reached",
          reached ? fmt::format("training to {} top-1 (epoch {})", percent(target), reached->epoch)
                  : fmt::format("target: {} top-1", percent(target)));
    }
  }
  if (context.summary)
    out += fmt::format(
        "<div class=\"card\"><div class=\"value\">{}</div><div class=\"label\">"
        "parameters</div></div>",
        nn::with_thousands(context.summary->total_params));
  out += fmt::format(
      "<div class=\"card\"><div class=\"value\">{}</div><div class=\"label\">"
      "device</div></div>",
      escape_html(run.device().empty() ? "unknown" : run.device()));
  out += "</div>\n";
  return out;
}

// "1.9 s to 99.00% (ep. 3)", "99.00% not reached", or a dash for a run without a target.
std::string time_to_target_cell(const RunRecord& run) {
  const double target = run.target_top1();
  if (target <= 0.0) return "&ndash;";
  const auto reached = run.time_to(target);
  if (!reached) return fmt::format("{} not reached", percent(target));
  return fmt::format("{} to {} <span class=\"muted\">(ep. {})</span>",
                     duration(reached->train_seconds), percent(target), reached->epoch);
}

std::string comparison_table(const std::vector<RunRecord>& runs,
                             const std::vector<RunContext>& contexts) {
  Table t;
  t.css_class = "comparison";
  t.header = {"",       "run",        "model",          "data set", "device", "epochs",
              "params", "best top-1", "final macro-F1", "images/s", "time"};
  t.numeric = {false, false, false, false, false, true, true, true, true, true, true};
  // Runs trained to a target accuracy (`train --target-accuracy`) get their time to it.
  const bool any_target = std::any_of(runs.begin(), runs.end(),
                                      [](const RunRecord& run) { return run.target_top1() > 0.0; });
  if (any_target) {
    t.header.push_back("time to target");
    t.numeric.push_back(true);
  }
  for (size_t r = 0; r < runs.size(); ++r) {
    const RunRecord& run = runs[r];
    const EpochRecord* best = run.best_epoch();
    t.rows.push_back(
        {fmt::format("<span class=\"bar\" style=\"width:14px;height:14px;opacity:1;background:{}\">"
                     "</span>",
                     series_colour(r)),
         fmt::format("<a href=\"#run-{}\">{}</a>", r + 1, escape_html(run.name)),
         escape_html(run.model()), escape_html(run.dataset()), escape_html(run.device()),
         run.epochs.empty() ? "0" : std::to_string(run.epochs.back().epoch),
         contexts[r].summary ? nn::with_thousands(contexts[r].summary->total_params) : "&ndash;",
         best ? fmt::format("{} <span class=\"muted\">(ep. {})</span>", percent(best->top1),
                            best->epoch)
              : "&ndash;",
         run.epochs.empty() ? "&ndash;" : fmt::format("{:.4f}", run.epochs.back().macro_f1),
         run.epochs.empty() ? "&ndash;" : thousands(run.median_images_per_second()),
         run.epochs.empty() ? "&ndash;" : duration(run.total_seconds())});
    if (any_target) t.rows.back().push_back(time_to_target_cell(run));
  }
  return render_table(t) +
         fmt::format(
             "<p class=\"muted\">images/s: the median over epochs of training "
             "throughput; time: training and evaluation summed over epochs{}.</p>\n",
             any_target ? "; time to target: training steps only, up to the end of the "
                          "first epoch whose test top-1 reached it"
                        : "");
}

std::string environment_section(const std::string& generated_at) {
  const GpuEnvironment env = query_gpu_environment();
  Table t;
  t.css_class = "config";
  t.header = {"", "value"};
  t.rows.push_back({"report generated", escape_html(generated_at)});
  t.rows.push_back(
      {"kestrel (report build)", fmt::format("{} <code>{}</code>", version(), commit())});
  t.rows.push_back(
      {"CPU threads", fmt::format("{} (GEMM: {})", cpu::num_threads(), cpu::gemm_backend_name())});
  if (!env.built_with_cuda) {
    t.rows.push_back({"CUDA", "not in this build: " + escape_html(env.no_gpu_reason)});
  } else {
    t.rows.push_back(
        {"CUDA libraries",
         escape_html(fmt::format("driver {}, runtime {}, cuBLAS {}, cuDNN {}, NCCL {}",
                                 env.driver_version, env.runtime_version, env.cublas_version,
                                 env.cudnn_version, env.nccl_version))});
    if (env.gpus.empty()) t.rows.push_back({"GPUs", "none: " + escape_html(env.no_gpu_reason)});
    for (const GpuInfo& g : env.gpus) {
      t.rows.push_back(
          {fmt::format("cuda:{}", g.index),
           escape_html(fmt::format("{}, {:.1f} GiB, {} SMs, compute capability {}.{}", g.name,
                                   static_cast<double>(g.total_memory) / (1024.0 * 1024.0 * 1024.0),
                                   g.multiprocessors, g.compute_major, g.compute_minor))});
    }
  }
  return "<section id=\"environment\">\n<h2>Environment at report time</h2>\n"
         "<p class=\"muted\">The machine and libraries that wrote this report, which may differ "
         "from those that trained the runs (each run's device, version and commit are in its "
         "own section).</p>\n" +
         render_table(t) + "</section>\n";
}

}  // namespace

std::string render_report(const std::vector<RunRecord>& runs, const ReportOptions& options) {
  KESTREL_CHECK(!runs.empty(), "report: no run to report on");
  const std::string generated_at = options.generated_at.empty() ? utc_now() : options.generated_at;

  // What each run needs beyond its directory: model summaries and test images.
  std::map<std::string, TestImages> test_sets;
  std::vector<RunContext> contexts(runs.size());
  for (size_t r = 0; r < runs.size(); ++r) {
    const RunRecord& run = runs[r];
    RunContext& c = contexts[r];
    if (!options.summarize_model) {
      c.summary_error = "this report was written without access to the model registry.";
    } else if (run.model().empty() || run.dataset().empty()) {
      c.summary_error = "config.json does not name the model and data set.";
    } else {
      try {
        ModelDescription d = options.summarize_model(run.model(), run.dataset(),
                                                     run.config.value("batch", int64_t{1}));
        c.summary = std::move(d.summary);
        c.summary_title = std::move(d.title);
      } catch (const Error& e) {
        c.summary_error = error_text(e);
      }
    }
    if (run.misclassified.empty()) continue;
    if (run.dataset().empty()) {
      c.images_error = "config.json does not name the data set.";
      continue;
    }
    const std::string dir =
        !options.data_dir.empty() ? options.data_dir : run.config.value("data_dir", "data");
    TestImages& set = test_sets[run.dataset() + "\n" + dir];
    if (!set.loaded && set.error.empty()) {
      try {
        set.images = data::load_dataset(run.dataset(), "test", dir);
        set.loaded = true;
      } catch (const Error& e) {
        set.error = error_text(e);
      }
    }
    if (set.loaded) {
      c.test_images = &set.images;
    } else {
      c.images_error = set.error;
    }
  }

  // Header and contents.
  std::string names;
  for (size_t r = 0; r < runs.size(); ++r) names += (r ? ", " : "") + runs[r].name;
  std::string body = "<header class=\"page\">\n";
  body += fmt::format(
      "<h1>kestrel report: {}</h1>\n",
      runs.size() == 1 ? escape_html(runs[0].name) : fmt::format("{} runs compared", runs.size()));
  body += fmt::format("<p class=\"muted\">Generated {} by kestrel {} from {}.</p>\n",
                      escape_html(generated_at), version(),
                      runs.size() == 1
                          ? "<code>" + escape_html(runs[0].dir.string()) + "/metrics.jsonl</code>"
                          : escape_html(names));
  body +=
      "<nav class=\"toc\"><a href=\"#overview\">Overview</a><a href=\"#curves\">Training "
      "curves</a>";
  for (size_t r = 0; r < runs.size(); ++r) {
    if (runs.size() == 1) {
      for (const auto& [anchor, label] :
           std::vector<std::pair<std::string, std::string>>{{"evaluation", "Final evaluation"},
                                                            {"epochs", "Epochs"},
                                                            {"model", "Model"},
                                                            {"misclassified", "Misclassified"},
                                                            {"config", "Configuration"}})
        body += fmt::format("<a href=\"#run-1-{}\">{}</a>", anchor, label);
    } else {
      body += fmt::format("<a href=\"#run-{}\">{}</a>", r + 1, escape_html(runs[r].name));
    }
  }
  body += "<a href=\"#environment\">Environment</a></nav>\n</header>\n";

  body += "<section id=\"overview\">\n";
  if (runs.size() == 1) {
    const RunRecord& run = runs[0];
    body += fmt::format(
        "<h2>Overview</h2>\n<p><strong>{}</strong> trained on <strong>{}</strong>"
        " for {} epoch(s).</p>\n",
        escape_html(run.model()), escape_html(run.dataset()),
        run.epochs.empty() ? 0 : run.epochs.back().epoch);
    body += overview_single(run, contexts[0]);
  } else {
    body += "<h2>Comparison</h2>\n";
    body += comparison_table(runs, contexts);
  }
  body += "</section>\n";

  body += "<section id=\"curves\">\n<h2>Training curves</h2>\n";
  body += runs.size() == 1
              ? "<p class=\"muted\">Per epoch: dashed lines are measured on the training "
                "batches as the model learned, solid ones on the test split after the epoch. "
                "Hover a point for its value.</p>\n"
              : "<p class=\"muted\">One colour per run; dashed lines are measured on the training "
                "batches, solid ones on the test split. Hover a point for its value.</p>\n";
  body += "<div class=\"charts\">\n";
  for (const LineChart& chart : training_charts(runs))
    body += "<figure class=\"chart-box\">\n" + render_line_chart(chart) + "</figure>\n";
  body += "</div>\n</section>\n";

  for (size_t r = 0; r < runs.size(); ++r)
    body += render_run_section(runs[r], fmt::format("run-{}", r + 1), run_heading(runs, r),
                               contexts[r]);
  body += environment_section(generated_at);
  body +=
      "<footer>Written by <code>kestrel report</code>. Self-contained: no scripts, no "
      "network; charts are SVG, images are embedded PNGs.</footer>\n";

  const std::string title =
      runs.size() == 1 ? "kestrel report: " + runs[0].name : "kestrel report: " + names;
  return render_page(title, body);
}

void write_report(const std::vector<fs::path>& run_dirs, const fs::path& out_html,
                  const ReportOptions& options) {
  KESTREL_CHECK(!run_dirs.empty(), "report: no run directory given");
  std::vector<RunRecord> runs;
  for (const fs::path& dir : run_dirs) runs.push_back(load_run(dir));
  const std::string html = render_report(runs, options);
  if (out_html.has_parent_path()) {
    std::error_code ec;
    fs::create_directories(out_html.parent_path(), ec);
    KESTREL_CHECK(!ec, "cannot create {}: {}", out_html.parent_path().string(), ec.message());
  }
  run::write_file_atomically(out_html, html);
}

void write_report(const std::vector<fs::path>& run_dirs, const fs::path& out_html,
                  const std::string& data_dir) {
  ReportOptions options;
  options.data_dir = data_dir;
  write_report(run_dirs, out_html, options);
}

}  // namespace kestrel::report
