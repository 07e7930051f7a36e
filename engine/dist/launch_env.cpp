#include "engine/dist/launch_env.hpp"

#include <charconv>
#include <cstdlib>
#include <optional>
#include <string_view>

#include "kernels/common/error.hpp"

namespace kestrel::dist {

namespace {

struct Variables {
  const char* launcher;
  const char* who;  // for messages
  const char* rank;
  const char* size;
  const char* size_fallback;  // nullptr: none
  const char* local_rank;
};

constexpr Variables kOpenMpi{
    "openmpi", "OpenMPI's mpirun",          "OMPI_COMM_WORLD_RANK", "OMPI_COMM_WORLD_SIZE",
    nullptr,   "OMPI_COMM_WORLD_LOCAL_RANK"};
constexpr Variables kSlurm{"slurm",        "srun",         "SLURM_PROCID", "SLURM_STEP_NUM_TASKS",
                           "SLURM_NTASKS", "SLURM_LOCALID"};
constexpr Variables kTorchrun{
    "env", "torchrun-style launchers", "RANK", "WORLD_SIZE", nullptr, "LOCAL_RANK"};

int parse_count(const char* name, const char* text) {
  const std::string_view s(text);
  int value = -1;
  const auto [end, error] = std::from_chars(s.data(), s.data() + s.size(), value);
  KESTREL_CHECK(!s.empty() && error == std::errc() && end == s.data() + s.size() && value >= 0,
                "launch environment: {}='{}' is not a whole number >= 0", name, s);
  return value;
}

std::optional<LaunchEnvironment> read(const Variables& v, const EnvironmentLookup& lookup) {
  const char* rank = lookup(v.rank);
  const char* size = lookup(v.size);
  const char* size_name = v.size;
  if (size == nullptr && v.size_fallback != nullptr && lookup(v.size_fallback) != nullptr) {
    size = lookup(v.size_fallback);
    size_name = v.size_fallback;
  }
  const char* local = lookup(v.local_rank);
  // Slurm's variables describe an allocation too; only SLURM_PROCID marks a task of srun.
  const bool any =
      rank != nullptr || local != nullptr || (size != nullptr && v.size_fallback == nullptr);
  if (!any) return std::nullopt;
  const auto require = [&](const char* value, const char* name) {
    KESTREL_CHECK(value != nullptr,
                  "launch environment: {} is set but {} is not ({} set {}, {} and {})",
                  rank != nullptr ? v.rank : (local != nullptr ? v.local_rank : size_name), name,
                  v.who, v.rank, v.size, v.local_rank);
  };
  require(rank, v.rank);
  require(size, size_name);
  require(local, v.local_rank);

  LaunchEnvironment env;
  env.launcher = v.launcher;
  env.rank = parse_count(v.rank, rank);
  env.size = parse_count(size_name, size);
  env.local_rank = parse_count(v.local_rank, local);
  KESTREL_CHECK(env.size >= 1, "launch environment: {}={} must be at least 1", size_name, env.size);
  KESTREL_CHECK(env.rank < env.size, "launch environment: {}={} is not below {}={}", v.rank,
                env.rank, size_name, env.size);
  KESTREL_CHECK(env.local_rank < env.size && env.local_rank <= env.rank,
                "launch environment: {}={} does not fit {}={} of {}={} (a local rank is at most "
                "the rank)",
                v.local_rank, env.local_rank, v.rank, env.rank, size_name, env.size);
  return env;
}

}  // namespace

LaunchEnvironment read_launch_environment(const EnvironmentLookup& lookup) {
  for (const Variables& v : {kOpenMpi, kSlurm, kTorchrun})
    if (auto env = read(v, lookup)) return *env;
  return LaunchEnvironment{};
}

LaunchEnvironment read_launch_environment() {
  return read_launch_environment([](const char* name) { return std::getenv(name); });
}

}  // namespace kestrel::dist
