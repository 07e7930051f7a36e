#pragma once
// Faults on purpose, for the tests of what a job does when one rank fails. Chosen by the
// environment, off unless KESTREL_FAULT is set:
//
//   KESTREL_FAULT=kill|hang|error  KESTREL_FAULT_RANK=R  KESTREL_FAULT_STEP=S
//
// At the start of training step S (counted over the run from 0), rank R
//   kill   raises SIGKILL on itself (a crashed process or node),
//   hang   stops forever (a stuck rank: the others' collectives reach --dist-timeout),
//   error  throws kestrel::Error (a failure in one rank's own code).
#include <cstdint>

#include "engine/dist/launch_env.hpp"

namespace kestrel::dist {

enum class FaultKind { None, Kill, Hang, Error };

struct FaultPlan {
  FaultKind kind = FaultKind::None;
  int rank = 0;
  int64_t step = 0;
};

// Throws kestrel::Error for an unknown kind or a missing or malformed rank or step.
FaultPlan read_fault_plan(const EnvironmentLookup& lookup);
FaultPlan read_fault_plan();

// Carries out the plan when it names this rank and step; otherwise does nothing.
void inject_fault(const FaultPlan& plan, int rank, int64_t step);

}  // namespace kestrel::dist
