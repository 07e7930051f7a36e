#include "engine/report/run_sections.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

#include "engine/report/heatmap.hpp"
#include "engine/report/html.hpp"
#include "engine/report/png_encode.hpp"

namespace kestrel::report {

namespace {

constexpr int kGalleryScale = 3;  // 28x28 digits become 84x84, CIFAR's 32x32 become 96x96

std::string card(const std::string& value, const std::string& label) {
  return fmt::format(
      "<div class=\"card\"><div class=\"value\">{}</div><div class=\"label\">{}"
      "</div></div>",
      value, label);
}

std::string notice(const std::string& text, bool error = false) {
  return fmt::format("<p class=\"notice{}\">{}</p>\n", error ? " error" : "", text);
}

std::string fixed(double v, int decimals) {
  return std::isfinite(v) ? fmt::format("{:.{}f}", v, decimals) : std::string("&ndash;");
}

// Learning rates span decades within one run (one-cycle ends near 1e-8): 3 significant digits.
std::string learning_rate(double v) { return fmt::format("{:.3g}", v); }

// A JSON value as a table cell: strings without quotes, the rest as JSON.
std::string json_cell(const nlohmann::json& v) {
  if (v.is_string()) return escape_html(v.get<std::string>());
  if (v.is_number_float()) return fmt::format("{:g}", v.get<double>());
  return escape_html(v.dump());
}

std::string per_class_table(const RunRecord& run) {
  size_t weakest = 0;
  for (size_t k = 1; k < run.per_class.size(); ++k)
    if (run.per_class[k].f1 < run.per_class[weakest].f1) weakest = k;
  Table t;
  t.css_class = "per-class";
  t.header = {"class", "precision", "recall", "F1", "", "support"};
  t.numeric = {false, true, true, true, false, true};
  for (size_t k = 0; k < run.per_class.size(); ++k) {
    const ClassScoreRow& c = run.per_class[k];
    const bool low = k == weakest && run.per_class.size() > 1;
    const std::string name =
        low ? fmt::format("<span class=\"low\" title=\"lowest F1\">{}</span>", escape_html(c.name))
            : escape_html(c.name);
    t.rows.push_back({name, fixed(c.precision, 4), fixed(c.recall, 4), fixed(c.f1, 4),
                      fmt::format("<span class=\"bar\" style=\"width:{:.0f}px\"></span>",
                                  std::clamp(c.f1, 0.0, 1.0) * 90.0),
                      thousands(static_cast<double>(c.support))});
  }
  return render_table(t);
}

// The largest off-diagonal counts: which classes the model takes for which.
std::string confusions_list(const RunRecord& run, size_t limit) {
  struct Pair {
    size_t truth, predicted;
    int64_t count;
  };
  std::vector<Pair> pairs;
  std::vector<int64_t> row_total(run.confusion.size(), 0);
  for (size_t t = 0; t < run.confusion.size(); ++t) {
    for (size_t p = 0; p < run.confusion.size(); ++p) {
      row_total[t] += run.confusion[t][p];
      if (t != p && run.confusion[t][p] > 0) pairs.push_back({t, p, run.confusion[t][p]});
    }
  }
  if (pairs.empty()) return "<p>No test image was misclassified.</p>\n";
  std::stable_sort(pairs.begin(), pairs.end(),
                   [](const Pair& a, const Pair& b) { return a.count > b.count; });
  const auto names = run.class_names();
  Table t;
  t.css_class = "confusions";
  t.header = {"true class", "taken for", "images", "share of the class"};
  t.numeric = {false, false, true, true};
  for (size_t i = 0; i < std::min(limit, pairs.size()); ++i) {
    const Pair& p = pairs[i];
    t.rows.push_back({escape_html(names[p.truth]), escape_html(names[p.predicted]),
                      thousands(static_cast<double>(p.count)),
                      percent(static_cast<double>(p.count) /
                                  static_cast<double>(std::max<int64_t>(row_total[p.truth], 1)),
                              2)});
  }
  return "<h4>Most frequent confusions</h4>\n" + render_table(t);
}

std::string epochs_table(const RunRecord& run) {
  const bool top5 = std::any_of(run.epochs.begin(), run.epochs.end(),
                                [](const EpochRecord& e) { return e.top5 >= 0.0; });
  Table t;
  t.css_class = "epochs";
  t.header = {"epoch", "learning rate", "train loss", "train accuracy", "test loss", "test top-1"};
  if (top5) t.header.push_back("test top-5");
  for (const char* h : {"macro-F1", "images/s", "train time", "eval time"}) t.header.push_back(h);
  t.numeric.assign(t.header.size(), true);
  for (const EpochRecord& e : run.epochs) {
    std::vector<std::string> row = {
        e.best
            ? fmt::format("{} <span class=\"muted\" title=\"best so far\">&#9733;</span>", e.epoch)
            : std::to_string(e.epoch),
        learning_rate(e.lr),
        fixed(e.train_loss, 4),
        percent(e.train_accuracy),
        fixed(e.eval_loss, 4),
        percent(e.top1)};
    if (top5) row.push_back(e.top5 >= 0.0 ? percent(e.top5) : "&ndash;");
    row.push_back(fixed(e.macro_f1, 4));
    row.push_back(thousands(e.images_per_second));
    row.push_back(duration(e.train_seconds));
    row.push_back(duration(e.eval_seconds));
    t.rows.push_back(row);
  }
  return render_table(t);
}

std::string config_tables(const RunRecord& run) {
  std::string out = "<div class=\"columns\">\n<div>\n<h4>Configuration (config.json)</h4>\n";
  if (run.has_config) {
    Table t;
    t.css_class = "config";
    t.header = {"setting", "value"};
    for (const auto& [key, value] : run.config.items()) {
      if (key == "device_resolved") continue;
      t.rows.push_back({escape_html(key), json_cell(value)});
    }
    out += render_table(t);
  } else {
    out += notice(fmt::format("{} has no config.json.", escape_html(run.dir.string())));
  }
  out += "</div>\n<div>\n<h4>Environment of the run</h4>\n";
  Table env;
  env.css_class = "config";
  env.header = {"", "value"};
  const auto text = [&](const char* key) {
    return run.config.contains(key) ? json_cell(run.config[key]) : std::string("&ndash;");
  };
  env.rows.push_back(
      {"device it ran on", escape_html(run.device().empty() ? "unknown" : run.device())});
  env.rows.push_back({"device requested", text("device")});
  env.rows.push_back({"deterministic algorithms", text("deterministic")});
  env.rows.push_back({"TF32 tensor cores", text("tf32")});
  env.rows.push_back({"bf16 operands, f32 master weights", text("bf16")});
  env.rows.push_back({"seed", text("seed")});
  const auto build = [&](const char* key) {
    auto it = run.build.find(key);
    return it != run.build.end() ? "<code>" + escape_html(it->second) + "</code>"
                                 : std::string("&ndash;");
  };
  env.rows.push_back({"kestrel version (training)", build("version")});
  env.rows.push_back({"source commit (training)", build("commit")});
  env.rows.push_back({"run directory", "<code>" + escape_html(run.dir.string()) + "</code>"});
  out += render_table(env);
  out +=
      "<p class=\"muted\">Version and commit come from the run's checkpoint metadata; the "
      "GPU libraries are listed under <a href=\"#environment\">environment at report "
      "time</a>.</p>\n";
  out += "</div>\n</div>\n";
  return out;
}

std::string memory(int64_t bytes) {
  if (bytes < 1000) return fmt::format("{} B", bytes);
  if (bytes < 1000 * 1000) return fmt::format("{:.1f} KB", static_cast<double>(bytes) / 1e3);
  return fmt::format("{:.2f} MB", static_cast<double>(bytes) / 1e6);
}

}  // namespace

std::string render_model_summary(const nn::GraphSummary& s) {
  Table t;
  t.css_class = "summary";
  t.header = {"layer", "type", "output shape", "parameters", "multiply-adds", "activations"};
  t.numeric = {false, false, false, true, true, true};
  for (const nn::LayerSummary& l : s.layers) {
    t.rows.push_back({escape_html(l.name), escape_html(l.type),
                      "<code>" + escape_html(l.output.str()) + "</code>",
                      l.params > 0 ? nn::with_thousands(l.params) : "&ndash;",
                      l.multiply_adds > 0 ? nn::with_thousands(l.multiply_adds) : "&ndash;",
                      l.activation_bytes > 0
                          ? memory(l.activation_bytes)
                          : "<span class=\"muted\">" +
                                escape_html(l.memory_note.empty() ? "--" : l.memory_note) +
                                "</span>"});
  }
  t.rows.push_back({"<strong>total</strong>", "",
                    "<code>input " + escape_html(s.input.str()) + "</code>",
                    "<strong>" + nn::with_thousands(s.total_params) + "</strong>",
                    "<strong>" + nn::with_thousands(s.multiply_adds) + "</strong>",
                    "<strong>" + memory(s.activation_bytes) + "</strong>"});
  std::string out = render_table(t);
  const int64_t batch = s.input.ndim() > 0 ? std::max<int64_t>(s.input[0], 1) : 1;
  out += fmt::format("<p class=\"muted\">Per image: {} multiply-adds in the forward pass.</p>\n",
                     nn::with_thousands(s.multiply_adds / batch));
  out += fmt::format(
      "<p class=\"muted\">Memory at this batch: input {}, activations {} and their gradients "
      "{}, planned by lifetime into one arena of {}; parameters {}, parameter gradients {}; "
      "about {} in all (optimizer state not included).</p>\n",
      memory(s.input_bytes), memory(s.activation_bytes), memory(s.activation_grad_bytes),
      memory(s.arena_bytes), memory(s.param_bytes), memory(s.gradient_bytes),
      memory(s.total_bytes()));
  return out;
}

std::string render_misclassified_gallery(const RunRecord& run, const data::ImageDataset& images,
                                         size_t limit) {
  const auto names = run.class_names();
  const auto name = [&](int32_t k) {
    return k >= 0 && static_cast<size_t>(k) < names.size() ? names[static_cast<size_t>(k)]
                                                           : std::to_string(k);
  };
  const int c = static_cast<int>(images.channels()), h = static_cast<int>(images.height()),
            w = static_cast<int>(images.width());
  const size_t image_bytes = static_cast<size_t>(c) * static_cast<size_t>(h * w);
  const uint8_t* pixels = images.images.data<uint8_t>();
  std::string out = "<div class=\"gallery\">\n";
  size_t shown = 0, outside = 0;
  for (const MisclassifiedImage& m : run.misclassified) {
    if (shown == limit) break;
    if (m.index >= images.size()) {
      ++outside;
      continue;
    }
    const std::string uri =
        png_data_uri(pixels + static_cast<size_t>(m.index) * image_bytes, c, h, w, kGalleryScale);
    out += fmt::format(
        "<figure><img src=\"{}\" width=\"{}\" height=\"{}\" alt=\"test image {}: {} taken for "
        "{}\"><figcaption>#{}<br><span class=\"true\">true {}</span><br>"
        "<span class=\"pred\">pred. {}</span><br>{} sure</figcaption></figure>\n",
        uri, w * kGalleryScale, h * kGalleryScale, m.index, escape_html(name(m.label)),
        escape_html(name(m.predicted)), m.index, escape_html(name(m.label)),
        escape_html(name(m.predicted)), percent(m.confidence, 1));
    ++shown;
  }
  out += "</div>\n";
  if (outside > 0) {
    out += notice(fmt::format("{} listed image(s) lie beyond the {} test images of {}: the data "
                              "set on this machine differs from the one the run used.",
                              outside, images.size(), escape_html(images.name)),
                  true);
  }
  return out;
}

std::string render_run_section(const RunRecord& run, const std::string& id,
                               const std::string& heading, const RunContext& context) {
  const std::string model = run.model().empty() ? "an unknown model" : run.model();
  const std::string dataset = run.dataset().empty() ? "an unknown data set" : run.dataset();
  const int64_t planned = run.config.value("epochs", int64_t{0});
  const int64_t done = run.epochs.empty() ? 0 : run.epochs.back().epoch;

  std::string out = fmt::format("<section class=\"run\" id=\"{}\">\n<h2>{}</h2>\n", id, heading);
  out += fmt::format(
      "<p><strong>{}</strong> on <strong>{}</strong> &middot; {} &middot; {} of {} epochs &middot; "
      "<code>{}</code></p>\n",
      escape_html(model), escape_html(dataset),
      escape_html(run.device().empty() ? "device unknown" : run.device()), done,
      planned > 0 ? std::to_string(planned) : "?", escape_html(run.dir.string()));
  if (run.divergence) {
    out += notice(fmt::format("The run stopped at epoch {}, step {}: the training loss became {} "
                              "(learning rate {:.3g}). "
                              "The metrics below end with the last good epoch.",
                              run.divergence->epoch, run.divergence->step,
                              escape_html(run.divergence->loss), run.divergence->lr),
                  true);
  }

  // Final evaluation.
  out += fmt::format("<h3 id=\"{}-evaluation\">Final evaluation</h3>\n", id);
  if (run.epochs.empty()) {
    out += notice("The run completed no epoch, so there is no evaluation to show.");
  } else {
    const EpochRecord& last = run.epochs.back();
    const EpochRecord& best = *run.best_epoch();
    out += fmt::format("<p class=\"muted\">On the {} test images after epoch {}.</p>\n",
                       thousands(static_cast<double>(last.eval_samples)), last.epoch);
    out += "<div class=\"cards\">";
    out += card(percent(last.top1), "test top-1");
    if (last.top5 >= 0.0) out += card(percent(last.top5), "test top-5");
    out += card(fixed(last.macro_f1, 4), "macro-F1");
    out += card(fixed(last.eval_loss, 4), "test loss");
    out += card(percent(best.top1), fmt::format("best top-1 (epoch {})", best.epoch));
    out += "</div>\n";
    if (!run.confusion.empty()) {
      out += "<div class=\"side-by-side\">\n<figure class=\"chart-box\">\n";
      out += render_confusion_heatmap(run.confusion, run.class_names(), id + "-confusion",
                                      "Confusion matrix");
      out += "</figure>\n";
      out += fmt::format("<div id=\"{}-per-class\">\n", id);
      out += per_class_table(run);
      out += confusions_list(run, 6);
      out += "</div>\n</div>\n";
    }
  }

  out += fmt::format("<h3 id=\"{}-epochs\">Metrics by epoch</h3>\n", id);
  out += run.epochs.empty() ? notice("No epoch completed.") : epochs_table(run);

  out += fmt::format("<h3 id=\"{}-model\">Model</h3>\n", id);
  if (context.summary) {
    out += fmt::format("<p class=\"muted\">{}</p>\n", escape_html(context.summary_title));
    out += render_model_summary(*context.summary);
  } else {
    out += notice("No model summary: " + escape_html(context.summary_error));
  }

  out += fmt::format("<h3 id=\"{}-misclassified\">Misclassified test images</h3>\n", id);
  if (!run.has_misclassified) {
    out += notice(fmt::format("{} has no misclassified.json.", escape_html(run.dir.string())));
  } else if (run.misclassified.empty()) {
    out += "<p>The run's last evaluation got every test image right.</p>\n";
  } else if (context.test_images == nullptr) {
    out +=
        notice(fmt::format("{} test images were misclassified, but the images cannot be shown: "
                           "{}",
                           run.misclassified.size(), escape_html(context.images_error)));
  } else {
    out += fmt::format(
        "<p class=\"muted\">The first {} misclassified images of the test split (in test order) "
        "after epoch {}: each with its index, its true class, the class the model predicted "
        "(pred.) and the model's softmax confidence in that wrong answer.</p>\n",
        run.misclassified.size(), done);
    out += render_misclassified_gallery(run, *context.test_images);
  }

  out += fmt::format("<h3 id=\"{}-config\">Configuration and environment</h3>\n", id);
  out += config_tables(run);
  out += "</section>\n";
  return out;
}

}  // namespace kestrel::report
