#pragma once
// One process driving several GPUs (kestrel train --gpus 0,1,2,3): one thread per GPU, each a
// rank of the same data-parallel run (run_training with its own DeviceContext and NCCL
// communicator). The alternative to one process per GPU under mpirun, for a single machine.
#include <memory>
#include <vector>

#include "engine/dist/communicator.hpp"
#include "engine/train/trainer.hpp"

namespace kestrel::train {

// comms[i] is rank i of comms.size() and drives gpus[i] (dist::make_gpu_communicators). Rank 0
// tells `observer` and writes the run; its result is returned. An exception in any thread ends
// the whole process through that rank's communicator (the other threads would otherwise wait in
// NCCL for it forever).
RunResult run_training_on_gpus(const TrainConfig& config, const std::vector<int>& gpus,
                               std::vector<std::unique_ptr<dist::Communicator>>& comms,
                               const ModelBuilder& build_model, TrainObserver& observer);

}  // namespace kestrel::train
