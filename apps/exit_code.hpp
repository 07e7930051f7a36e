#pragma once
// The process exit code a subcommand asks for when it finishes without an exception (e.g. 3
// when training stopped on a non-finite loss). Errors map to codes in main.cpp.
namespace kestrel::apps {

inline constexpr int kExitDiverged = 3;

inline int& exit_code() {
  static int code = 0;
  return code;
}

}  // namespace kestrel::apps
