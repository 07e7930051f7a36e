#pragma once
// The communicator of CPU ranks launched by mpirun or srun: MPI (OpenMPI from Debian). Built
// only when CMake finds MPI (KESTREL_HAVE_MPI). Every collective is non-blocking
// (MPI_Iallreduce, MPI_Ibcast, MPI_Ibarrier) and waited for by polling MPI_Testall against the
// deadline, so a rank that died or hangs makes the others abort the job (MPI_Abort) after
// timeout_seconds instead of blocking in MPI forever.
#include <memory>
#include <string>

#include "engine/dist/communicator.hpp"
#include "engine/dist/launch_env.hpp"

namespace kestrel::dist {

// Initialises MPI on first use (MPI_THREAD_FUNNELED: only the thread that creates
// communicators calls MPI; finalised at exit unless the job was aborted) and returns a
// communicator over a duplicate of MPI_COMM_WORLD. Throws kestrel::Error when MPI's world is
// not the one `env` describes (e.g. RANK/WORLD_SIZE set by hand but no MPI launcher).
std::unique_ptr<Communicator> make_mpi_communicator(const LaunchEnvironment& env,
                                                    double timeout_seconds);

// True once MPI has been initialised (and not finalised) in this process.
bool mpi_is_running();

// MPI's own description of its library ("Open MPI v4.1.4, ..."), first line only.
std::string mpi_library_version();

// Ends every rank of the MPI job with exit status 1 (MPI_Abort on MPI_COMM_WORLD).
[[noreturn]] void mpi_abort_job();

}  // namespace kestrel::dist
