#pragma once
// `kestrel devices --self-test`: every op kestrel uses, run on small random inputs on the
// device under test and on a reference context (the CPU backend), compared element by element.
// Nothing here knows which backend either context is; a CPU-against-CPU run checks the
// comparison itself (and must pass), and the perturbation hook shows a failure is reported.
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "engine/runtime/context.hpp"
#include "engine/selftest/case.hpp"

namespace kestrel::selftest {

struct SelfTestOptions {
  uint64_t seed = 1;
  bool quick_only = false;  // only the cases marked quick (train's check before its first step)
  bool with_bf16 = false;   // with quick_only: the bf16 path's cases too (a run that asks for bf16)
  // Fault injection (KESTREL_FAULT_FAST_PATH=bf16): every bf16-path case fails with an error on
  // the device under test, as a library without bf16 kernels would make it.
  bool fail_bf16 = false;
  // Test hook: adds `perturb_by` to element `perturb_index` of the first output of the case
  // named `perturb_case`, on the device under test only (empty: no perturbation).
  std::string perturb_case;
  int64_t perturb_index = 0;
  float perturb_by = 1.0f;
};

enum class Verdict { Passed, Mismatch, Error };

struct CaseResult {
  std::string name;
  Verdict verdict = Verdict::Passed;
  // Passed: the largest error; Mismatch: the worst element; Error: the library's error text.
  std::string detail;
  bool bf16_path = false;  // the case's Case::bf16_path
};

struct SelfTestReport {
  std::vector<CaseResult> results;
  double seconds = 0.0;  // wall time of both runs of every case
  bool passed() const;
  int failures() const;
};

// Every case, or only the quick ones (and the bf16 path's, with_bf16), for a run on `target`.
std::vector<Case> self_test_cases(const Context& target, bool quick_only, bool with_bf16 = false);

// What a training run does after its self-test: every op passed (Train); only ops of the bf16
// path failed (TrainInF32: a run that asked for bf16 degrades to f32 with one warning, since
// the f32 path it falls back to passed); anything else failed (Stop).
enum class AfterSelfTest { Train, TrainInF32, Stop };
AfterSelfTest after_self_test(const SelfTestReport& report);

// Runs each case on `target` and on `reference` with the same seed and compares; an exception
// from either run is that case's error (the next case still runs). `on_result`, when given,
// sees each result as it is made (so a hang leaves the lines before it printed).
SelfTestReport run_self_test(const Context& target, const Context& reference,
                             const SelfTestOptions& options,
                             const std::function<void(const CaseResult&)>& on_result = {});

// The same over a given list of cases (tests pass their own).
SelfTestReport run_cases(const std::vector<Case>& cases, const Context& target,
                         const Context& reference, const SelfTestOptions& options,
                         const std::function<void(const CaseResult&)>& on_result = {});

// One line: "cuda:0  conv2d.forward   passed (max error 2.4e-07)", "... FAILED: largest
// error ..." or "... ERROR: <library text>".
std::string format_result(const std::string& device, const CaseResult& result);

}  // namespace kestrel::selftest
