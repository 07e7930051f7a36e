#pragma once
// Communicator: what data-parallel training needs from the ranks of a job, written once and
// implemented per transport: LocalCommunicator (one process, nothing to do), MpiCommunicator
// (CPU ranks over MPI), NcclCommunicator (one GPU per rank over NCCL). The trainer talks only
// to this interface, so the data-parallel code path that the CPU tests prove under mpirun is
// the one that runs on GPUs.
//
// Device buffers (float* data) live on the communicator's device: host memory for Local and
// MPI, the rank's GPU for NCCL. Their collectives are ordered like ops: on a GPU they wait for
// the work already queued on the device's compute stream and the compute stream's later work
// waits for them (events, no host synchronisation); on the CPU they have completed when the
// call (or finish_all_reduces) returns. Host values (the *_host calls: metrics, flags, ids) are
// complete when the call returns, on every backend.
//
// Every rank must issue the same collectives in the same order. Every wait has a deadline
// (DistOptions::timeout_seconds): a collective that does not complete in time, because a rank
// died or hangs, aborts the whole job with a message instead of hanging it.
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "engine/runtime/context.hpp"
#include "engine/tensor/tensor.hpp"

namespace kestrel::dist {

class Communicator {
 public:
  virtual ~Communicator() = default;
  Communicator(const Communicator&) = delete;
  Communicator& operator=(const Communicator&) = delete;

  // "local", "mpi" or "nccl".
  virtual std::string_view backend() const = 0;
  virtual int rank() const = 0;
  virtual int size() const = 0;
  // The rank's index among the ranks of its machine (which GPU it drives).
  virtual int local_rank() const = 0;

  // Sums data[0, n) over the ranks, in place, and returns when it is complete (in stream order
  // on a GPU).
  void all_reduce_sum(float* data, int64_t n);
  // Starts the same sum without waiting; finish_all_reduces() completes every started one.
  // Data-parallel training starts one per gradient bucket while backward still runs.
  virtual void start_all_reduce_sum(float* data, int64_t n) = 0;
  // Lets started reductions advance (MPI progresses non-blocking collectives only inside MPI
  // calls); cheap, called between layers of the backward pass.
  virtual void progress() {}
  virtual void finish_all_reduces() = 0;
  // Copies root's data[0, n) to every rank.
  virtual void broadcast(float* data, int64_t n, int root) = 0;
  // Sums a few doubles of device memory over the ranks, in place, complete in stream order
  // like all_reduce_sum (the training step's loss and hits: no host synchronisation on a GPU).
  virtual void all_reduce_sum_doubles(double* data, int64_t n) = 0;

  // Host values, summed over the ranks in place.
  virtual void all_reduce_sum_host(std::span<double> values) = 0;
  virtual void all_reduce_sum_host(std::span<int64_t> values) = 0;
  // Copies root's bytes (host memory) to every rank.
  virtual void broadcast_host(std::span<std::byte> bytes, int root) = 0;
  virtual void barrier() = 0;

  // Ends the whole job, on every rank, with a non-zero exit status, after printing `reason`
  // (MPI_Abort, ncclCommAbort). The local communicator throws kestrel::Error instead: a single
  // process has no one else to stop.
  [[noreturn]] virtual void abort(const std::string& reason) = 0;

 protected:
  Communicator() = default;
};

// The mean over the ranks of an f32 tensor on ctx's device, in place: the sum, then a scale by
// 1 / size.
void all_reduce_average(Communicator& comm, const Context& ctx, Tensor& t);

// "rank 1 of 4" (used in messages).
std::string describe_rank(const Communicator& comm);

}  // namespace kestrel::dist
