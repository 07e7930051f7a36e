#pragma once
// The communicator of GPU ranks: NCCL, one GPU per rank. Built only with CUDA and NCCL
// (KESTREL_HAVE_NCCL).
//
// Collectives run on the DeviceContext's communication stream: each waits (cudaStreamWaitEvent)
// for an event recorded on the compute stream when it was started, and finish_all_reduces() /
// broadcast() make the compute stream wait for the communication stream, so the optimizer
// reads summed gradients without the host ever waiting. A watchdog thread polls
// ncclCommGetAsyncError and the completion of every started collective; an NCCL error, or a
// collective still incomplete after timeout_seconds (a dead or hung rank), ends the job
// (ncclCommAbort, then abort_job) instead of leaving the GPU waiting forever. Host-value
// collectives (metrics) go through a small device buffer and wait with the same deadline.
#include <memory>
#include <vector>

#include "engine/dist/communicator.hpp"

namespace kestrel::dist {

// One rank of a job of bootstrap.size() processes, on GPU `device`: makes it current, takes
// NCCL's unique id from rank 0 over `bootstrap` (MPI, or a LocalCommunicator for a job of one)
// and joins with ncclCommInitRank. Its rank, size and local rank are the bootstrap's.
std::unique_ptr<Communicator> make_nccl_communicator(Communicator& bootstrap, int device,
                                                     double timeout_seconds);

// One process driving several GPUs (kestrel train --gpus): ncclCommInitAll over `gpus`;
// communicator i is rank i on gpus[i], to be used by one thread of its own.
std::vector<std::unique_ptr<Communicator>> make_nccl_communicators(const std::vector<int>& gpus,
                                                                   double timeout_seconds);

}  // namespace kestrel::dist
