#pragma once
// Choosing the communicator for a process, from its launch environment and its device.
#include <memory>
#include <string>
#include <vector>

#include "engine/core/device.hpp"
#include "engine/dist/communicator.hpp"
#include "engine/dist/launch_env.hpp"

namespace kestrel::dist {

struct DistOptions {
  // How long any collective may take before the job is aborted (kestrel train --dist-timeout).
  double timeout_seconds = 300.0;
};

// The communicator of this process's rank:
//   one rank (no launcher, or mpirun -np 1)  LocalCommunicator: no MPI, no NCCL
//   several ranks on CPUs                     MPI
//   several ranks on GPUs                     NCCL, its unique id broadcast over MPI
// Throws kestrel::Error naming what is missing when this kestrel was built without MPI or
// NCCL, or when MPI's world does not match the environment.
std::unique_ptr<Communicator> make_communicator(const LaunchEnvironment& env, Device device,
                                                const DistOptions& options);

// One process driving several GPUs (kestrel train --gpus): one NCCL communicator per GPU.
// Throws kestrel::Error when a listed GPU is not present or the build has no NCCL.
std::vector<std::unique_ptr<Communicator>> make_gpu_communicators(const std::vector<int>& gpus,
                                                                  const DistOptions& options);

// What this build can use, for `kestrel devices`.
struct DistSupport {
  bool mpi = false;
  std::string mpi_library;  // MPI's own version line, when built with it
  bool nccl = false;
};
DistSupport dist_support();

}  // namespace kestrel::dist
