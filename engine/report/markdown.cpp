#include "engine/report/markdown.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <map>
#include <set>
#include <tuple>

#include "engine/nn/summary.hpp"
#include "engine/report/html.hpp"
#include "engine/run/run_directory.hpp"
#include "kernels/common/error.hpp"

namespace kestrel::report {

namespace {

// Markdown table cells cannot hold a bare '|'.
std::string cell(std::string text) {
  for (size_t at = text.find('|'); at != std::string::npos; at = text.find('|', at + 2))
    text.replace(at, 1, "\\|");
  return text;
}

std::string table_row(const std::vector<std::string>& cells) {
  std::string row = "|";
  for (const std::string& c : cells) {
    row += ' ';
    row += cell(c);
    row += " |";
  }
  row += '\n';
  return row;
}

std::string table_head(const std::vector<std::string>& titles) {
  std::string rule = "|";
  for (size_t i = 0; i < titles.size(); ++i) rule += " --- |";
  return table_row(titles) + rule + "\n";
}

std::string seconds_text(double s) {
  if (s >= 600.0) return fmt::format("{:.1f} min", s / 60.0);
  return fmt::format("{:.1f} s", s);
}

std::string commit_of(const RunRecord& run) {
  const auto it = run.build.find("commit");
  if (it != run.build.end() && !it->second.empty()) return it->second;
  return run.config.value("kestrel_commit", "unknown");
}

std::string runs_table(const std::vector<RunRecord>& runs) {
  std::string out = "### Runs\n\n";
  out += table_head({"run", "model", "data set", "epochs", "batch", "device",
                     "train time / epoch (median)", "train images/s (median)", "test top-1 (last)",
                     "best top-1 (epoch)", "top-5 (last)", "macro-F1 (last)", "commit"});
  for (const RunRecord& run : runs) {
    const EpochRecord* last = run.epochs.empty() ? nullptr : &run.epochs.back();
    const EpochRecord* best = run.best_epoch();
    out +=
        table_row({run.name, run.model(), run.dataset(), last ? std::to_string(last->epoch) : "0",
                   std::to_string(run.config.value("batch", int64_t{0})), run.device(),
                   seconds_text(run.median_train_seconds()),
                   nn::with_thousands(static_cast<int64_t>(run.median_images_per_second() + 0.5)),
                   last ? percent(last->top1) : "-",
                   best ? fmt::format("{} ({})", percent(best->top1), best->epoch) : "-",
                   last && last->top5 >= 0.0 ? percent(last->top5) : "-",
                   last ? fmt::format("{:.4f}", last->macro_f1) : "-", commit_of(run)});
  }
  return out;
}

std::string accuracy_by_epoch(const std::vector<RunRecord>& runs) {
  size_t epochs = 0;
  for (const RunRecord& run : runs) epochs = std::max(epochs, run.epochs.size());
  std::string out = "### Test top-1 after each epoch\n\n";
  std::vector<std::string> titles{"epoch"};
  for (const RunRecord& run : runs) titles.push_back(run.name);
  out += table_head(titles);
  for (size_t e = 0; e < epochs; ++e) {
    std::vector<std::string> row{std::to_string(e + 1)};
    for (const RunRecord& run : runs)
      row.push_back(e < run.epochs.size() ? percent(run.epochs[e].top1) : "");
    out += table_row(row);
  }
  return out;
}

// "5x5 ×2" style lists of windows: the distinct (kernel, stride) pairs in order of appearance.
std::string windows(const nn::GraphSummary& s, const std::string& type) {
  std::vector<std::tuple<int, int, int>> seen;  // kernel, stride, count
  for (const nn::LayerSummary& l : s.layers) {
    if (l.type != type) continue;
    auto it = std::find_if(seen.begin(), seen.end(), [&](const auto& t) {
      return std::get<0>(t) == l.kernel && std::get<1>(t) == l.stride;
    });
    if (it == seen.end()) {
      seen.emplace_back(l.kernel, l.stride, 1);
    } else {
      ++std::get<2>(*it);
    }
  }
  std::string out;
  for (const auto& [kernel, stride, count] : seen) {
    if (!out.empty()) out += ", ";
    out += fmt::format("{}x{}", kernel, kernel);
    if (stride != 1) out += fmt::format(" stride {}", stride);
    if (count > 1) out += fmt::format(" ×{}", count);
  }
  return out;
}

int count_type(const nn::GraphSummary& s, const std::string& type) {
  return static_cast<int>(std::count_if(s.layers.begin(), s.layers.end(),
                                        [&](const nn::LayerSummary& l) { return l.type == type; }));
}

std::string architecture_row(const std::string& label, const nn::GraphSummary& s) {
  const int convs = count_type(s, "Conv2d"), linears = count_type(s, "Linear");
  std::string pooling;
  for (const auto& [type, name] : std::vector<std::pair<std::string, std::string>>{
           {"MaxPool2d", "max"}, {"AvgPool2d", "average"}}) {
    if (count_type(s, type) == 0) continue;
    if (!pooling.empty()) pooling += "; ";
    pooling += fmt::format("{} {}", name, windows(s, type));
  }
  if (count_type(s, "AdaptiveAvgPool2d") > 0) {
    if (!pooling.empty()) pooling += "; ";
    pooling += "adaptive average";
  }
  std::string activations;
  for (const std::string type : {"ReLU", "Tanh"}) {
    if (count_type(s, type) == 0) continue;
    if (!activations.empty()) activations += ", ";
    activations += type;
  }
  std::string dropout;
  int dropouts = 0;
  for (const nn::LayerSummary& l : s.layers) {
    if (l.type != "Dropout") continue;
    ++dropouts;
    dropout = fmt::format("p = {:g}", l.dropout);
  }
  dropout = dropouts == 0 ? "none" : fmt::format("{} × {}", dropouts, dropout);
  const int lrn = count_type(s, "LocalResponseNorm");
  const int64_t batch = std::max<int64_t>(s.input.ndim() > 0 ? s.input[0] : 1, 1);
  return table_row(
      {label, fmt::format("{} ({} conv + {} linear)", convs + linears, convs, linears),
       windows(s, "Conv2d"), pooling.empty() ? "none" : pooling,
       activations.empty() ? "none" : activations, dropout,
       lrn > 0 ? fmt::format("LRN ×{}", lrn) : "none", nn::with_thousands(s.total_params),
       fmt::format("{:.2f} M", static_cast<double>(s.multiply_adds) / batch / 1e6),
       fmt::format("{:.1f} KB", static_cast<double>(s.activation_bytes) / batch / 1e3)});
}

std::string architectures_table(const std::vector<RunRecord>& runs, const ReportOptions& options) {
  std::string out = "### Architectures\n\n";
  if (!options.summarize_model)
    return out + "No model registry was available to describe the models.\n";
  out += table_head({"model (data set)", "weighted layers", "convolution kernels", "pooling",
                     "activations", "dropout", "normalisation", "parameters",
                     "multiply-adds / image", "activations / image"});
  std::set<std::pair<std::string, std::string>> done;
  for (const RunRecord& run : runs) {
    const auto key = std::make_pair(run.model(), run.dataset());
    if (key.first.empty() || key.second.empty() || !done.insert(key).second) continue;
    const std::string label = fmt::format("{} ({})", key.first, key.second);
    try {
      out += architecture_row(label, options.summarize_model(key.first, key.second, 1).summary);
    } catch (const Error& e) {
      out += table_row({label, fmt::format("no summary: {}", e.message())});
    }
  }
  return out;
}

std::string hardest_classes(const RunRecord& run) {
  std::string out = fmt::format("#### {}\n\n", run.name);
  if (run.per_class.empty()) return out + "No per-class evaluation in metrics.jsonl.\n";
  std::vector<size_t> order(run.per_class.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    return run.per_class[a].recall < run.per_class[b].recall;
  });
  std::string lowest;
  for (size_t i = 0; i < std::min<size_t>(3, order.size()); ++i) {
    const ClassScoreRow& c = run.per_class[order[i]];
    lowest += fmt::format("{}{} (recall {}, precision {})", i ? ", " : "", c.name,
                          percent(c.recall), percent(c.precision));
  }
  out += "Lowest recall: " + lowest + ".\n\n";

  struct Confusion {
    size_t truth, predicted;
    int64_t count;
  };
  std::vector<Confusion> mistakes;
  for (size_t t = 0; t < run.confusion.size(); ++t)
    for (size_t p = 0; p < run.confusion[t].size(); ++p)
      if (t != p && run.confusion[t][p] > 0) mistakes.push_back({t, p, run.confusion[t][p]});
  std::stable_sort(mistakes.begin(), mistakes.end(),
                   [](const Confusion& a, const Confusion& b) { return a.count > b.count; });
  int64_t errors = 0;
  for (const Confusion& m : mistakes) errors += m.count;
  out += table_head(
      {"true class", "predicted as", "test images", "share of the class", "share of all errors"});
  for (size_t i = 0; i < std::min<size_t>(5, mistakes.size()); ++i) {
    const Confusion& m = mistakes[i];
    const int64_t support = run.per_class[m.truth].support;
    out += table_row({run.per_class[m.truth].name, run.per_class[m.predicted].name,
                      std::to_string(m.count),
                      support > 0 ? percent(static_cast<double>(m.count) / support) : "-",
                      percent(static_cast<double>(m.count) / static_cast<double>(errors))});
  }
  out += fmt::format("\n{} test images misclassified in all.\n", nn::with_thousands(errors));
  return out;
}

}  // namespace

std::string render_markdown(const std::vector<RunRecord>& runs, const ReportOptions& options) {
  KESTREL_CHECK(!runs.empty(), "report: no run to report on");
  std::string out = "<!-- written by `kestrel report --markdown`; do not edit by hand -->\n\n";
  out += runs_table(runs) + "\n";
  out += accuracy_by_epoch(runs) + "\n";
  out += architectures_table(runs, options) + "\n";
  out += "### Hardest classes (last epoch's evaluation)\n\n";
  for (const RunRecord& run : runs) out += hardest_classes(run) + "\n";
  return out;
}

void write_markdown(const std::vector<std::filesystem::path>& run_dirs,
                    const std::filesystem::path& out_md, const ReportOptions& options) {
  std::vector<RunRecord> runs;
  for (const auto& dir : run_dirs) runs.push_back(load_run(dir));
  run::write_file_atomically(out_md, render_markdown(runs, options));
}

}  // namespace kestrel::report
