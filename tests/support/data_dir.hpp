#pragma once
// Where the real data sets are for the tests that use them: scripts/fetch-data.sh puts them in
// <repo>/data, KESTREL_DATA_DIR points elsewhere (CI sets it). A test without its data skips,
// naming the fetch command.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

namespace kestrel::test {

// The data folder: $KESTREL_DATA_DIR, else data/ beside the build (cwd, its parents) or in the
// source tree this file was compiled from.
inline std::vector<std::filesystem::path> data_dir_candidates() {
  std::vector<std::filesystem::path> candidates;
  if (const char* env = std::getenv("KESTREL_DATA_DIR"); env != nullptr && *env != '\0') {
    candidates.emplace_back(env);
  }
  for (const char* relative : {"data", "../data", "../../data", "../../../data"}) {
    candidates.emplace_back(relative);
  }
  // This file is <repo>/tests/support/data_dir.hpp.
  candidates.push_back(std::filesystem::path(__FILE__).parent_path().parent_path().parent_path() /
                       "data");
  return candidates;
}

// The first candidate holding `folder` (e.g. "mnist"), or "" when none does.
inline std::string find_data_dir(const std::string& folder) {
  for (const auto& dir : data_dir_candidates()) {
    if (std::filesystem::is_directory(dir / folder)) return dir.string();
  }
  return {};
}

}  // namespace kestrel::test

// Declares `dir`, the data folder holding `folder`, or skips the test naming the fetch command.
#define KESTREL_REQUIRE_DATA(dir, folder, fetch_name)                                            \
  const std::string dir = ::kestrel::test::find_data_dir(folder);                                \
  if (dir.empty()) {                                                                             \
    GTEST_SKIP() << "data folder '" << folder                                                    \
                 << "' not found (KESTREL_DATA_DIR, ./data, ../data, the source tree's data/): " \
                 << "run scripts/fetch-data.sh " << fetch_name;                                  \
  }
