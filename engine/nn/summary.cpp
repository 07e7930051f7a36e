#include "engine/nn/summary.hpp"

#include <fmt/format.h>

#include <algorithm>

namespace kestrel::nn {

namespace {

double megabytes(int64_t bytes) { return static_cast<double>(bytes) / 1e6; }

// A layer's memory in B, KB or MB; a layer that adds none shows why (in place, view, fused).
std::string memory_cell(const LayerSummary& row) {
  if (row.activation_bytes == 0) return row.memory_note.empty() ? "--" : row.memory_note;
  if (row.activation_bytes < 1000) return fmt::format("{} B", row.activation_bytes);
  if (row.activation_bytes < 1000 * 1000)
    return fmt::format("{:.1f} KB", static_cast<double>(row.activation_bytes) / 1e3);
  return fmt::format("{:.2f} MB", megabytes(row.activation_bytes));
}

std::string multiply_adds_total(int64_t macs) {
  const double v = static_cast<double>(macs);
  if (v >= 1e9) return fmt::format("Total mult-adds (G): {:.2f}", v / 1e9);
  return fmt::format("Total mult-adds (M): {:.2f}", v / 1e6);
}

}  // namespace

std::string with_thousands(int64_t value) {
  const std::string digits = std::to_string(value < 0 ? -value : value);
  std::string out;
  for (size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) out += ',';
    out += digits[i];
  }
  return value < 0 ? "-" + out : out;
}

std::string format_summary(const GraphSummary& s, std::string_view title) {
  // A graph with branches gets an "Input" column naming what each layer reads.
  const bool branches = std::any_of(s.layers.begin(), s.layers.end(),
                                    [](const LayerSummary& l) { return !l.inputs.empty(); });
  struct Cells {
    std::string layer, reads, shape, params, macs, memory;
  };
  std::vector<Cells> rows;
  rows.push_back({"Layer (type)", "Input", "Output Shape", "Param #", "Mult-Adds", "Activations"});
  for (const LayerSummary& l : s.layers) {
    std::string reads;
    for (const std::string& in : l.inputs) reads += (reads.empty() ? "" : ", ") + in;
    rows.push_back({fmt::format("{} ({})", l.name, l.type), reads, l.output.str(),
                    l.params > 0 ? with_thousands(l.params) : "--",
                    l.multiply_adds > 0 ? with_thousands(l.multiply_adds) : "--", memory_cell(l)});
  }
  size_t w[6] = {0, 0, 0, 0, 0, 0};
  for (const Cells& c : rows) {
    w[0] = std::max(w[0], c.layer.size());
    w[1] = std::max(w[1], c.reads.size());
    w[2] = std::max(w[2], c.shape.size());
    w[3] = std::max(w[3], c.params.size());
    w[4] = std::max(w[4], c.macs.size());
    w[5] = std::max(w[5], c.memory.size());
  }
  const size_t width = w[0] + (branches ? w[1] + 3 : 0) + w[2] + w[3] + w[4] + w[5] + 4 * 3;
  const std::string heavy(width, '='), light(width, '-');

  std::string out = fmt::format("{}\n{}\n", title, heavy);
  for (size_t r = 0; r < rows.size(); ++r) {
    const Cells& c = rows[r];
    out += fmt::format("{:<{}}   ", c.layer, w[0]);
    if (branches) out += fmt::format("{:<{}}   ", c.reads, w[1]);
    out += fmt::format("{:<{}}   {:>{}}   {:>{}}   {:>{}}\n", c.shape, w[2], c.params, w[3], c.macs,
                       w[4], c.memory, w[5]);
    if (r == 0) out += heavy + "\n";
  }
  out += heavy + "\n";
  out += fmt::format("Total params: {}\n", with_thousands(s.total_params));
  out += fmt::format("Trainable params: {}\n", with_thousands(s.trainable_params()));
  out += fmt::format("Non-trainable params: {}\n", with_thousands(s.frozen_params));
  if (s.buffer_elements > 0)
    out += fmt::format("Buffers (running statistics): {}\n", with_thousands(s.buffer_elements));
  out += multiply_adds_total(s.multiply_adds) + "\n";
  out += light + "\n";
  out += fmt::format("Input size (MB): {:.2f}\n", megabytes(s.input_bytes));
  out += fmt::format("Activations (MB): {:.2f}\n", megabytes(s.activation_bytes));
  out += fmt::format("Activation gradients (MB): {:.2f}\n", megabytes(s.activation_grad_bytes));
  out += fmt::format("Planned arena, all of the above by lifetime (MB): {:.2f}\n",
                     megabytes(s.arena_bytes));
  out += fmt::format("Params size (MB): {:.2f}\n", megabytes(s.param_bytes));
  out += fmt::format("Gradients size (MB): {:.2f}\n", megabytes(s.gradient_bytes));
  if (s.state_bytes > 0) out += fmt::format("State size (MB): {:.2f}\n", megabytes(s.state_bytes));
  out += fmt::format("Estimated total size (MB): {:.2f}\n", megabytes(s.total_bytes()));
  out += heavy + "\n";
  return out;
}

}  // namespace kestrel::nn
