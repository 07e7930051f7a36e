#pragma once
// The communicator of a single process: one rank, and every collective is the identity.
// Training without mpirun uses it, so the data-parallel code path is the only path.
#include "engine/dist/communicator.hpp"

namespace kestrel::dist {

class LocalCommunicator final : public Communicator {
 public:
  LocalCommunicator() = default;

  std::string_view backend() const override { return "local"; }
  int rank() const override { return 0; }
  int size() const override { return 1; }
  int local_rank() const override { return 0; }

  void start_all_reduce_sum(float* data, int64_t n) override;
  void finish_all_reduces() override {}
  void broadcast(float* data, int64_t n, int root) override;
  void all_reduce_sum_doubles(double* data, int64_t n) override;
  void all_reduce_sum_host(std::span<double> values) override;
  void all_reduce_sum_host(std::span<int64_t> values) override;
  void broadcast_host(std::span<std::byte> bytes, int root) override;
  void barrier() override {}
  // Throws kestrel::Error with `reason`.
  [[noreturn]] void abort(const std::string& reason) override;
};

}  // namespace kestrel::dist
