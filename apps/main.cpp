// kestrel: the command-line front end. Parses flags, runs one subcommand, and turns every
// error into one clear line on stderr with a non-zero exit code: 2 for usage errors, 1 for
// everything else.
#include <fmt/format.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <exception>

#include "apps/commands/batch.hpp"
#include "apps/commands/bench.hpp"
#include "apps/commands/data.hpp"
#include "apps/commands/devices.hpp"
#include "apps/commands/predict.hpp"
#include "apps/commands/report.hpp"
#include "apps/commands/summary.hpp"
#include "apps/commands/train.hpp"
#include "apps/exit_code.hpp"
#include "engine/core/version.hpp"
#include "kernels/common/error.hpp"

int main(int argc, char** argv) {
  CLI::App app{"kestrel: a CUDA-native deep-learning training engine", "kestrel"};
  app.set_version_flag(
      "--version", std::string("kestrel ") + kestrel::version() + " (" + kestrel::commit() + ")");
  app.require_subcommand(1);
  kestrel::apps::register_devices_command(app);
  kestrel::apps::register_data_command(app);
  kestrel::apps::register_summary_command(app);
  kestrel::apps::register_train_command(app);
  kestrel::apps::register_eval_command(app);
  kestrel::apps::register_predict_command(app);
  kestrel::apps::register_report_command(app);
  kestrel::apps::register_bench_command(app);
  kestrel::apps::register_batch_command(app);

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    fmt::print(stderr, "kestrel: {} (see kestrel --help)\n", e.what());
    return 2;
  } catch (const kestrel::Error& e) {
    fmt::print(stderr, "kestrel: error: {}\n", e.message().empty() ? e.what() : e.message());
    return 1;
  } catch (const std::exception& e) {
    fmt::print(stderr, "kestrel: error: {}\n", e.what());
    return 1;
  }
  return kestrel::apps::exit_code();
}
