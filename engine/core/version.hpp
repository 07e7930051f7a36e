#pragma once
// kestrel's version and the source commit the binary was built from ("+dirty" when the tree had
// uncommitted changes), recorded in checkpoints, configs and reports.
namespace kestrel {

const char* version();
const char* commit();

}  // namespace kestrel
