#include "engine/train/data_parallel.hpp"

#include <array>
#include <cstring>

#include "kernels/common/error.hpp"

namespace kestrel::train {

uint64_t dropout_seed_for_rank(uint64_t seed, int rank) {
  if (rank == 0) return seed;
  // splitmix64's finaliser over (seed, rank): distinct, well-mixed seeds per rank.
  uint64_t z = seed + 0x9E3779B97F4A7C15ull * static_cast<uint64_t>(rank);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

void broadcast_training_state(dist::Communicator& comm, nn::Graph& graph,
                              optim::Optimizer& optimizer) {
  if (comm.size() == 1) return;
  Tensor& params = graph.parameters();
  comm.broadcast(params.data<float>(), params.numel(), 0);
  // The state exists on every rank or on none (all fresh, or all restored from one file).
  for (auto& [name, state] : optimizer.state()) {
    (void)name;
    comm.broadcast(state.data<float>(), state.numel(), 0);
  }
  broadcast_model_state(comm, graph);
}

void broadcast_model_state(dist::Communicator& comm, nn::Graph& graph) {
  if (comm.size() == 1 || graph.state().numel() == 0) return;
  // Through the host: a few kilobytes once per epoch, in any dtype (f32 statistics, i64 counts).
  Tensor& state = graph.state();
  Tensor host = state.to(Device::cpu());
  comm.broadcast_host(std::span<std::byte>(static_cast<std::byte*>(host.raw_data()), host.nbytes()),
                      0);
  state.copy_from(host);
}

void check_replicas_agree(dist::Communicator& comm, double parameter_norm, int64_t epoch) {
  if (comm.size() == 1) return;
  double reference = parameter_norm;
  comm.broadcast_host(std::as_writable_bytes(std::span<double>(&reference, 1)), 0);
  std::array<int64_t, 1> differing{
      std::memcmp(&reference, &parameter_norm, sizeof(double)) != 0 ? 1 : 0};
  const int64_t mine = differing[0];
  comm.all_reduce_sum_host(differing);
  KESTREL_CHECK(differing[0] == 0,
                "after epoch {}, {} of {} ranks hold parameters that differ from rank 0's (this "
                "rank's parameter norm {:.17g}, rank 0's {:.17g}{}): the replicas no longer "
                "agree, so the run stops",
                epoch + 1, differing[0], comm.size(), parameter_norm, reference,
                mine != 0 ? "; this rank is one of them" : "");
}

void check_resume_world_size(const checkpoint::LoadedCheckpoint& checkpoint, int world_size) {
  int64_t trained = 1;
  if (auto it = checkpoint.state.extra.find(kWorldSizeKey); it != checkpoint.state.extra.end())
    trained = std::stoll(it->second);
  KESTREL_CHECK(trained == world_size,
                "--resume {}: the run was trained on {} rank(s) and this job has {}; resume it "
                "with {} rank(s) (the data order, the global batch and the schedule depend on "
                "the rank count)",
                checkpoint.path, trained, world_size, trained);
}

}  // namespace kestrel::train
