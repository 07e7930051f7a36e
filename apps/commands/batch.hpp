#pragma once
#include <CLI/CLI.hpp>

namespace kestrel::apps {

// `kestrel batch MODEL --weights W --input IN --out OUT [--sgd-lr LR --save W2]`: runs one
// batch of images, read from a safetensors file, through a model with the given weights (any
// safetensors file holding its state_dict: a kestrel checkpoint, or one PyTorch wrote). Without
// --sgd-lr: an evaluation pass, OUT holds "logits". With it: a training pass (batch
// statistics) on IN's "labels", the mean cross-entropy's gradients and one plain SGD step
// (w -= lr * g); OUT holds "logits", "loss" and "grad.<parameter>", and --save writes the
// updated state_dict. For checking kestrel against PyTorch (bench/pytorch/parity.py).
void register_batch_command(CLI::App& app);

}  // namespace kestrel::apps
