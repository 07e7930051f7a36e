#include "engine/report/run_charts.hpp"

#include <cmath>
#include <functional>

namespace kestrel::report {

namespace {

constexpr const char* kTrainDash = "6 4";
constexpr const char* kTop5Dash = "2 3";

// One quantity drawn for every run.
struct Quantity {
  std::string label;  // in the legend: "train", "test top-1"
  std::function<double(const EpochRecord&)> value;
  std::string dash;
  bool present = true;  // false: leave it out (top-5 of a task with fewer than 10 classes)
};

Series series_of(const RunRecord& run, const Quantity& q) {
  Series s;
  s.dash = q.dash;
  for (const EpochRecord& e : run.epochs) {
    s.x.push_back(static_cast<double>(e.epoch));
    s.y.push_back(q.value(e));
  }
  return s;
}

constexpr const char* kStyleKeyColour = "#5b6475";

// One series per (run, quantity): coloured by quantity for a single run; by run for several,
// with a legend of run colours followed by one grey key per line style. Earlier runs draw
// wider lines, so a run whose curve coincides with a later one still shows at its edges.
void add_series(LineChart& chart, const std::vector<RunRecord>& runs,
                const std::vector<Quantity>& quantities) {
  const bool several = runs.size() > 1;
  size_t shown = 0;
  for (const Quantity& q : quantities) shown += q.present ? 1 : 0;
  for (size_t r = 0; r < runs.size(); ++r) {
    for (size_t q = 0; q < quantities.size(); ++q) {
      if (!quantities[q].present) continue;
      Series s = series_of(runs[r], quantities[q]);
      if (several) {
        s.colour = series_colour(r);
        s.name = shown > 1 ? runs[r].name + " \u00b7 " + quantities[q].label : runs[r].name;
        s.width = 2.0 + 1.25 * static_cast<double>(runs.size() - 1 - r) /
                            static_cast<double>(runs.size() - 1);
      } else {
        s.colour = series_colour(q);
        s.name = quantities[q].label;
      }
      chart.series.push_back(std::move(s));
    }
  }
  if (!several) return;
  for (size_t r = 0; r < runs.size(); ++r) chart.legend.push_back({runs[r].name, series_colour(r), ""});
  if (shown > 1) {
    for (const Quantity& q : quantities)
      if (q.present) chart.legend.push_back({q.label, kStyleKeyColour, q.dash});
  }
}

bool any_top5(const std::vector<RunRecord>& runs) {
  for (const auto& run : runs)
    for (const auto& e : run.epochs)
      if (e.top5 >= 0.0) return true;
  return false;
}

}  // namespace

std::vector<LineChart> training_charts(const std::vector<RunRecord>& runs) {
  const Axis epochs{"epoch", /*integer_steps=*/true, false, ""};
  std::vector<LineChart> charts;

  LineChart loss;
  loss.id = "chart-loss";
  loss.title = "Loss (cross-entropy)";
  loss.x = epochs;
  loss.y = {"mean loss per image", false, false, ""};
  add_series(loss,
      runs, {{"train", [](const EpochRecord& e) { return e.train_loss; }, kTrainDash},
             {"test", [](const EpochRecord& e) { return e.eval_loss; }, ""}});
  charts.push_back(loss);

  LineChart accuracy;
  accuracy.id = "chart-accuracy";
  accuracy.title = "Accuracy";
  accuracy.x = epochs;
  accuracy.y = {"accuracy (%)", false, false, "%"};
  const bool top5 = any_top5(runs);
  add_series(accuracy,
      runs,
      {{"train", [](const EpochRecord& e) { return 100.0 * e.train_accuracy; }, kTrainDash},
       {"test top-1", [](const EpochRecord& e) { return 100.0 * e.top1; }, ""},
       {"test top-5",
        [](const EpochRecord& e) { return e.top5 >= 0.0 ? 100.0 * e.top5 : std::nan(""); },
        kTop5Dash, top5}});
  charts.push_back(accuracy);

  LineChart lr;
  lr.id = "chart-lr";
  lr.title = "Learning rate (at the end of each epoch)";
  lr.x = epochs;
  lr.y = {"learning rate", false, true, ""};
  add_series(lr, runs, {{"learning rate", [](const EpochRecord& e) { return e.lr; }, ""}});
  charts.push_back(lr);

  LineChart throughput;
  throughput.id = "chart-throughput";
  throughput.title = "Throughput";
  throughput.x = epochs;
  throughput.y = {"images per second", false, true, " img/s"};
  add_series(throughput,
      runs, {{"training", [](const EpochRecord& e) { return e.images_per_second; }, kTrainDash},
             {"evaluation",
              [](const EpochRecord& e) {
                return e.eval_seconds > 0.0 ? static_cast<double>(e.eval_samples) / e.eval_seconds
                                            : std::nan("");
              },
              ""}});
  charts.push_back(throughput);
  return charts;
}

}  // namespace kestrel::report
