// kernels::Fallback, the switch behind the fast paths that degrade (cuBLASLt's forward product):
// a failure, real or injected with KESTREL_FAULT_FAST_PATH, turns the path off with exactly one
// warning line naming it, and the caller's plain path gives the result.
#include "kernels/common/fallback.hpp"

#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>

#include "tests/support/random.hpp"

namespace kestrel::kernels {
namespace {

std::string read_all(std::FILE* f) {
  std::rewind(f);
  std::string text;
  for (int c = std::fgetc(f); c != EOF; c = std::fgetc(f)) text += static_cast<char>(c);
  return text;
}

// The shape of a call site: the fast path while it is on and not failing, else the plain one.
int64_t product(Fallback& path, int64_t a, int64_t b, std::FILE* out, int& fast_calls) {
  if (path.active()) {
    if (!path.fault_injected()) {
      ++fast_calls;
      return a * b;
    }
    path.disable("injected by KESTREL_FAULT_FAST_PATH", out);
  }
  int64_t sum = 0;  // the plain path
  for (int64_t i = 0; i < b; ++i) sum += a;
  return sum;
}

TEST(Fallback, InjectedFaultWarnsOnceAndThePlainPathAnswers) {
  ::setenv("KESTREL_FAULT_FAST_PATH", "test-path", 1);
  Fallback path("test-path", "the test's fast product", "repeated addition");
  Fallback other("other-path", "another fast path", "its plain path");
  ::unsetenv("KESTREL_FAULT_FAST_PATH");
  EXPECT_TRUE(path.fault_injected());
  EXPECT_FALSE(other.fault_injected());
  std::FILE* out = std::tmpfile();
  ASSERT_NE(out, nullptr);
  std::mt19937_64 gen(test::test_seed());
  std::uniform_int_distribution<int64_t> d(0, 1000);
  int fast_calls = 0;
  for (int i = 0; i < 5; ++i) {
    const int64_t a = d(gen), b = d(gen);
    EXPECT_EQ(product(path, a, b, out, fast_calls), a * b);
  }
  EXPECT_EQ(fast_calls, 0);
  EXPECT_FALSE(path.active());
  EXPECT_TRUE(other.active());
  EXPECT_EQ(read_all(out),
            "kestrel: warning: the test's fast product failed (injected by "
            "KESTREL_FAULT_FAST_PATH); repeated addition from now on\n");
  std::fclose(out);
}

TEST(Fallback, WithoutAFaultTheFastPathRunsAndNothingIsPrinted) {
  Fallback path("quiet-path", "a fast path", "a plain path");
  std::FILE* out = std::tmpfile();
  ASSERT_NE(out, nullptr);
  int fast_calls = 0;
  EXPECT_EQ(product(path, 6, 7, out, fast_calls), 42);
  EXPECT_EQ(fast_calls, 1);
  EXPECT_TRUE(path.active());
  // A real failure later: one line, however often it is reported.
  path.disable("CUBLAS_STATUS_NOT_SUPPORTED", out);
  path.disable("CUBLAS_STATUS_NOT_SUPPORTED", out);
  EXPECT_EQ(product(path, 6, 7, out, fast_calls), 42);
  EXPECT_EQ(fast_calls, 1);
  EXPECT_EQ(read_all(out),
            "kestrel: warning: a fast path failed (CUBLAS_STATUS_NOT_SUPPORTED); a plain path "
            "from now on\n");
  std::fclose(out);
}

// attempt(): the shape of the cuDNN algorithm search's fallback. A failing call turns the path
// off with the library's text, and no later call is made; an injected fault never calls.
TEST(Fallback, AttemptRunsTheCallUntilItFails) {
  Fallback path("attempt-path", "the timed search", "the heuristic");
  std::FILE* out = std::tmpfile();
  ASSERT_NE(out, nullptr);
  std::mt19937_64 gen(test::test_seed());
  const int good = std::uniform_int_distribution<int>(1, 5)(gen);
  int calls = 0;
  for (int i = 0; i < good; ++i) EXPECT_TRUE(path.attempt([&] { ++calls; return std::string(); }, out));
  EXPECT_FALSE(path.attempt([&] { ++calls; return std::string("CUDNN_STATUS_EXECUTION_FAILED"); }, out));
  EXPECT_FALSE(path.attempt([&] { ++calls; return std::string(); }, out));
  EXPECT_EQ(calls, good + 1);
  EXPECT_FALSE(path.active());
  EXPECT_EQ(read_all(out),
            "kestrel: warning: the timed search failed (CUDNN_STATUS_EXECUTION_FAILED); the "
            "heuristic from now on\n");
  std::fclose(out);

  ::setenv("KESTREL_FAULT_FAST_PATH", "cudnn-find", 1);
  Fallback injected("cudnn-find", "cuDNN's timed algorithm search", "cuDNN's heuristic choice");
  ::unsetenv("KESTREL_FAULT_FAST_PATH");
  std::FILE* out2 = std::tmpfile();
  ASSERT_NE(out2, nullptr);
  EXPECT_FALSE(injected.attempt([&] { ++calls; return std::string(); }, out2));
  EXPECT_EQ(calls, good + 1);
  EXPECT_NE(read_all(out2).find("failed (injected by KESTREL_FAULT_FAST_PATH)"), std::string::npos);
  std::fclose(out2);
}

}  // namespace
}  // namespace kestrel::kernels
