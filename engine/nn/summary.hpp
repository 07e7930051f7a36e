#pragma once
// A graph's summary in the manner of torchinfo: one row per layer (output shape, parameters,
// multiply-adds, the activation memory it adds) and totals. A layer that runs in place, a view
// (Flatten) or a ReLU fused into its Linear adds no output of its own. The memory plan puts all
// activations, their gradients and what layers save for backward in one arena by lifetime: its
// size (the planned peak) is what training allocates for them, less than their sum.
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "engine/core/shape.hpp"

namespace kestrel::nn {

struct LayerSummary {
  std::string name, type;
  // The layers it reads ("input" for the images); empty when the whole graph is a chain.
  std::vector<std::string> inputs;
  Shape output;  // for the summary's batch
  int64_t params = 0;
  int64_t frozen_params = 0;  // of params, those not trained (Graph::freeze)
  int64_t multiply_adds = 0;
  int64_t activation_bytes = 0;  // its own output buffer plus kept state (argmax, LRN scale)
  std::string memory_note;       // why it adds no output buffer: "in place", "view", "fused"
  // What an architecture table needs without rebuilding the layer: the square window and
  // stride of a convolution or pooling layer (0 for other layers) and a dropout probability.
  int kernel = 0, stride = 0;
  double dropout = 0.0;
};

struct GraphSummary {
  Shape input;  // [batch, C, H, W]
  std::vector<LayerSummary> layers;
  int64_t total_params = 0;
  int64_t frozen_params = 0;    // torchinfo's non-trainable parameters
  int64_t buffer_elements = 0;  // non-trainable state (running statistics), not parameters
  int64_t multiply_adds = 0;
  int64_t input_bytes = 0;
  int64_t activation_bytes = 0;       // sum over the layers
  int64_t activation_grad_bytes = 0;  // activation gradients and gradient scratch, summed
  int64_t arena_bytes = 0;     // the planned arena holding all of the above at once: the peak
  int64_t param_bytes = 0;     // the flat parameter buffer (alignment padding included)
  int64_t gradient_bytes = 0;  // the flat gradient buffer
  int64_t state_bytes = 0;     // buffers and frozen parameters

  int64_t trainable_params() const { return total_params - frozen_params; }
  // What a training step holds: the input, the arena, parameters, gradients and state.
  int64_t total_bytes() const {
    return input_bytes + arena_bytes + param_bytes + gradient_bytes + state_bytes;
  }
};

// "57,023,306".
std::string with_thousands(int64_t value);

// The table and totals as text, headed by `title` (e.g. "alexnet on cifar10, batch 1").
// Multiply-adds are given in M below 1e9 and in G above; sizes in MB (1e6 bytes, as torchinfo).
std::string format_summary(const GraphSummary& summary, std::string_view title);

}  // namespace kestrel::nn
