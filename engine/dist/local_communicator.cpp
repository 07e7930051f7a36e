#include "engine/dist/local_communicator.hpp"

#include "kernels/common/error.hpp"

namespace kestrel::dist {

namespace {
void check_root(int root) {
  KESTREL_CHECK(root == 0, "broadcast: root {} is not a rank of a single-process job", root);
}
}  // namespace

void LocalCommunicator::start_all_reduce_sum(float* data, int64_t n) {
  KESTREL_CHECK(n >= 0 && (data != nullptr || n == 0), "all_reduce_sum: {} values at {}", n,
                static_cast<void*>(data));
}

void LocalCommunicator::all_reduce_sum_doubles(double* data, int64_t n) {
  KESTREL_CHECK(n >= 0 && (data != nullptr || n == 0), "all_reduce_sum_doubles: {} values at {}",
                n, static_cast<void*>(data));
}

void LocalCommunicator::broadcast(float* /*data*/, int64_t n, int root) {
  KESTREL_CHECK(n >= 0, "broadcast: {} values", n);
  check_root(root);
}

void LocalCommunicator::all_reduce_sum_host(std::span<double> /*values*/) {}
void LocalCommunicator::all_reduce_sum_host(std::span<int64_t> /*values*/) {}

void LocalCommunicator::broadcast_host(std::span<std::byte> /*bytes*/, int root) {
  check_root(root);
}

void LocalCommunicator::abort(const std::string& reason) { throw Error(reason); }

}  // namespace kestrel::dist
