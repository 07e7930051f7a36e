#include "engine/train/multi_gpu.hpp"

#include <exception>
#include <thread>

#include "kernels/common/error.hpp"

namespace kestrel::train {

RunResult run_training_on_gpus(const TrainConfig& config, const std::vector<int>& gpus,
                               std::vector<std::unique_ptr<dist::Communicator>>& comms,
                               const ModelBuilder& build_model, TrainObserver& observer) {
  KESTREL_CHECK(!gpus.empty() && gpus.size() == comms.size(),
                "run_training_on_gpus: {} GPUs but {} communicators", gpus.size(), comms.size());
  std::vector<RunResult> results(gpus.size());
  std::vector<std::thread> threads;
  for (size_t i = 0; i < gpus.size(); ++i) {
    threads.emplace_back([&, i] {
      dist::Communicator& comm = *comms[i];
      try {
        TrainConfig mine = config;
        mine.device = fmt::format("cuda:{}", gpus[i]);
        results[i] = run_training(mine, build_model, observer, comm);
      } catch (const Error& e) {
        comm.abort(e.message().empty() ? e.what() : e.message());
      } catch (const std::exception& e) {
        comm.abort(e.what());
      }
    });
  }
  for (std::thread& t : threads) t.join();
  return results.front();
}

}  // namespace kestrel::train
