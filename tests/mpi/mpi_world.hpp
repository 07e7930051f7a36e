#pragma once
// The MPI suites run as one job under mpirun (tests/CMakeLists.txt: -np 3): every rank runs
// every test, and the tests reach the job through this communicator. Tests must issue the same
// collectives on every rank whatever they find (EXPECT, not ASSERT, before a collective).
#include "engine/dist/communicator.hpp"

namespace kestrel::test {

dist::Communicator& mpi_world();

}  // namespace kestrel::test
