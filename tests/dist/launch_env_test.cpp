// The launch-environment reader over fake environments: each launcher's variables, their order
// of precedence, and one clear error for every incomplete or inconsistent set.
#include "engine/dist/launch_env.hpp"

#include <gtest/gtest.h>

#include <map>
#include <string>

#include "tests/support/errors.hpp"

namespace kestrel::dist {
namespace {

using Environment = std::map<std::string, std::string>;

LaunchEnvironment read(const Environment& vars) {
  return read_launch_environment([&](const char* name) -> const char* {
    const auto it = vars.find(name);
    return it == vars.end() ? nullptr : it->second.c_str();
  });
}

void expect_env(const LaunchEnvironment& e, const std::string& launcher, int rank, int size,
                int local_rank) {
  EXPECT_EQ(e.launcher, launcher);
  EXPECT_EQ(e.rank, rank);
  EXPECT_EQ(e.size, size);
  EXPECT_EQ(e.local_rank, local_rank);
}

TEST(LaunchEnvironment, NoLauncherIsOneProcess) {
  expect_env(read({}), "none", 0, 1, 0);
  // A Slurm allocation without srun (an sbatch script's own shell) is not a rank of anything.
  expect_env(read({{"SLURM_NTASKS", "8"}, {"SLURM_JOB_ID", "42"}}), "none", 0, 1, 0);
}

TEST(LaunchEnvironment, ReadsOpenMpi) {
  expect_env(read({{"OMPI_COMM_WORLD_RANK", "5"},
                   {"OMPI_COMM_WORLD_SIZE", "8"},
                   {"OMPI_COMM_WORLD_LOCAL_RANK", "1"}}),
             "openmpi", 5, 8, 1);
}

TEST(LaunchEnvironment, ReadsSlurmStepTasksBeforeJobTasks) {
  expect_env(read({{"SLURM_PROCID", "3"},
                   {"SLURM_STEP_NUM_TASKS", "4"},
                   {"SLURM_NTASKS", "16"},
                   {"SLURM_LOCALID", "3"}}),
             "slurm", 3, 4, 3);
  expect_env(read({{"SLURM_PROCID", "9"}, {"SLURM_NTASKS", "16"}, {"SLURM_LOCALID", "1"}}), "slurm",
             9, 16, 1);
}

TEST(LaunchEnvironment, ReadsTorchrunStyleVariables) {
  expect_env(read({{"RANK", "2"}, {"WORLD_SIZE", "3"}, {"LOCAL_RANK", "0"}}), "env", 2, 3, 0);
}

TEST(LaunchEnvironment, OpenMpiWinsOverSlurmAndSlurmOverTorchrun) {
  // mpirun inside a Slurm allocation: the processes are mpirun's ranks.
  expect_env(read({{"OMPI_COMM_WORLD_RANK", "1"},
                   {"OMPI_COMM_WORLD_SIZE", "2"},
                   {"OMPI_COMM_WORLD_LOCAL_RANK", "1"},
                   {"SLURM_PROCID", "0"},
                   {"SLURM_NTASKS", "1"},
                   {"SLURM_LOCALID", "0"}}),
             "openmpi", 1, 2, 1);
  expect_env(read({{"SLURM_PROCID", "1"},
                   {"SLURM_STEP_NUM_TASKS", "2"},
                   {"SLURM_LOCALID", "1"},
                   {"RANK", "0"},
                   {"WORLD_SIZE", "7"},
                   {"LOCAL_RANK", "0"}}),
             "slurm", 1, 2, 1);
}

TEST(LaunchEnvironment, IncompleteSetsAreErrors) {
  test::expect_error(
      [] {
        read({{"OMPI_COMM_WORLD_RANK", "1"}, {"OMPI_COMM_WORLD_SIZE", "2"}});
      },
      "OMPI_COMM_WORLD_RANK is set but OMPI_COMM_WORLD_LOCAL_RANK is not");
  test::expect_error(
      [] {
        read({{"RANK", "0"}, {"LOCAL_RANK", "0"}});
      },
      "RANK is set but WORLD_SIZE is not");
  test::expect_error([] { read({{"WORLD_SIZE", "4"}}); }, "WORLD_SIZE is set but RANK is not");
  test::expect_error(
      [] {
        read({{"SLURM_PROCID", "0"}, {"SLURM_LOCALID", "0"}});
      },
      "SLURM_PROCID is set but SLURM_STEP_NUM_TASKS is not");
}

TEST(LaunchEnvironment, InconsistentValuesAreErrors) {
  test::expect_error(
      [] {
        read({{"OMPI_COMM_WORLD_RANK", "4"},
              {"OMPI_COMM_WORLD_SIZE", "4"},
              {"OMPI_COMM_WORLD_LOCAL_RANK", "0"}});
      },
      "OMPI_COMM_WORLD_RANK=4 is not below OMPI_COMM_WORLD_SIZE=4");
  test::expect_error(
      [] {
        read({{"RANK", "0"}, {"WORLD_SIZE", "0"}, {"LOCAL_RANK", "0"}});
      },
      "WORLD_SIZE=0 must be at least 1");
  test::expect_error(
      [] {
        read({{"RANK", "1"}, {"WORLD_SIZE", "4"}, {"LOCAL_RANK", "2"}});
      },
      "LOCAL_RANK=2 does not fit RANK=1");
  test::expect_error(
      [] {
        read({{"RANK", "one"}, {"WORLD_SIZE", "4"}, {"LOCAL_RANK", "0"}});
      },
      "RANK='one' is not a whole number");
  test::expect_error(
      [] {
        read({{"RANK", "-1"}, {"WORLD_SIZE", "4"}, {"LOCAL_RANK", "0"}});
      },
      "RANK='-1' is not a whole number");
  test::expect_error(
      [] {
        read({{"RANK", "1 "}, {"WORLD_SIZE", "4"}, {"LOCAL_RANK", "0"}});
      },
      "RANK='1 ' is not a whole number");
  test::expect_error(
      [] {
        read({{"RANK", ""}, {"WORLD_SIZE", "4"}, {"LOCAL_RANK", "0"}});
      },
      "RANK='' is not a whole number");
}

}  // namespace
}  // namespace kestrel::dist
