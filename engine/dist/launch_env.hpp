#pragma once
// Which rank of how many this process is, as the launcher said it in the environment:
//
//   launcher                     rank                    size                          local rank
//   OpenMPI (mpirun, mpiexec)    OMPI_COMM_WORLD_RANK    OMPI_COMM_WORLD_SIZE
//   OMPI_COMM_WORLD_LOCAL_RANK Slurm (srun)                 SLURM_PROCID SLURM_STEP_NUM_TASKS
//   SLURM_LOCALID
//                                                        (else SLURM_NTASKS)
//   torchrun style               RANK                    WORLD_SIZE                    LOCAL_RANK
//
// looked for in that order (mpirun inside a Slurm allocation sets both; its own variables
// win). None of them: a single process. Values must be whole numbers with 0 <= rank < size and
// 0 <= local rank < size; a launcher's set must be complete. Anything else is a kestrel::Error
// naming the variables, never a silent single-process run.
#include <functional>
#include <string>

namespace kestrel::dist {

struct LaunchEnvironment {
  int rank = 0;
  int size = 1;
  int local_rank = 0;
  std::string launcher = "none";  // "openmpi", "slurm", "env" (RANK/WORLD_SIZE) or "none"
};

// The value of an environment variable, or nullptr when it is not set.
using EnvironmentLookup = std::function<const char*(const char* name)>;

// From `lookup` (tests pass a fake environment).
LaunchEnvironment read_launch_environment(const EnvironmentLookup& lookup);
// From this process's environment.
LaunchEnvironment read_launch_environment();

}  // namespace kestrel::dist
