#pragma once
// The training curves of one or several runs, per epoch: loss (train and test), accuracy (train,
// test top-1, test top-5 when recorded), the learning rate and throughput. With one run, each
// quantity has its own colour; with several, each run has a colour (the same in every chart)
// and the line style tells train (dashed) from test (solid).
#include <string>
#include <vector>

#include "engine/report/run_record.hpp"
#include "engine/report/svg_chart.hpp"

namespace kestrel::report {

// The charts in page order, with ids chart-loss, chart-accuracy, chart-lr, chart-throughput.
std::vector<LineChart> training_charts(const std::vector<RunRecord>& runs);

}  // namespace kestrel::report
