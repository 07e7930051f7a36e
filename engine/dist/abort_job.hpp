#pragma once
// Ending a job from any rank and any thread: MPI_Abort on the MPI world when MPI is running
// (mpirun and srun then stop every rank), else _Exit(1) (the launcher sees a failed rank; the
// other ranks' own deadlines end them). No destructors run: the process may be stuck inside a
// collective that will never complete.
namespace kestrel::dist {

[[noreturn]] void abort_job();

}  // namespace kestrel::dist
