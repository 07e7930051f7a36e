#pragma once
#include <CLI/CLI.hpp>

namespace kestrel::apps {

// `kestrel train MODEL [flags]`: trains a model, evaluates it every epoch, keeps checkpoints.
void register_train_command(CLI::App& app);
// `kestrel eval CHECKPOINT [flags]`: evaluates a checkpoint on its data set's test split.
void register_eval_command(CLI::App& app);

}  // namespace kestrel::apps
