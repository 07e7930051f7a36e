#include "engine/dist/abort_job.hpp"

#include <cstdlib>

#if defined(KESTREL_HAVE_MPI)
#include "engine/dist/mpi_communicator.hpp"
#endif

namespace kestrel::dist {

void abort_job() {
#if defined(KESTREL_HAVE_MPI)
  mpi_abort_job();
#else
  std::_Exit(1);
#endif
}

}  // namespace kestrel::dist
