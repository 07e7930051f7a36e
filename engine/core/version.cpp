#include "engine/core/version.hpp"

#include "kestrel_commit.hpp"  // generated at build time by cmake/KestrelCommit.cmake

namespace kestrel {

const char* version() { return KESTREL_VERSION; }
const char* commit() { return KESTREL_COMMIT; }

}  // namespace kestrel
