#pragma once
// One self-test case: an op kestrel uses, run on small random inputs on one context. The
// runner (self_test.hpp) runs it on the device under test and on the reference backend with
// the same seed and compares what comes back. A case queues the op through the engine's own
// dispatch, so the device runs the library calls and kernels that training runs.
#include <cstdint>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include "engine/runtime/context.hpp"
#include "engine/selftest/compare.hpp"
#include "engine/tensor/tensor.hpp"

namespace kestrel::selftest {

// One result of a case, copied back to the host, under the name its error line uses.
struct Output {
  std::string name;
  std::vector<float> values;
};

struct Case {
  std::string name;  // "conv2d.forward": what a line names
  Tolerance tolerance;
  bool quick = false;  // part of the short run `train --device cuda` does before its first step
  // Draws its inputs from `seed` (the same on both contexts) and returns its outputs.
  std::function<std::vector<Output>(const Context& ctx, uint64_t seed)> run;
  // An op of the bf16 path (--bf16): a run that did not ask for bf16 does not need it, and one
  // that did can train in f32 instead when only such ops fail (after_self_test()).
  bool bf16_path = false;
};

// Uniform in [lo, hi) from `gen`, made on the host and copied to ctx's device.
Tensor random_input(const Context& ctx, const Shape& shape, std::mt19937_64& gen, float lo = -1.0f,
                    float hi = 1.0f);
// i32 labels in [0, classes) on ctx's device.
Tensor random_labels(const Context& ctx, int64_t n, int32_t classes, std::mt19937_64& gen);
// An output buffer on ctx's device filled with NaN, so an element the op never writes fails.
Tensor poisoned(const Context& ctx, const Shape& shape);
// The tensor's values on the host (f32, or i32 converted), waiting for the device.
Output output(std::string name, const Tensor& t);

// The cases by family (cases_*.cpp).
std::vector<Case> convolution_cases();
std::vector<Case> product_cases();
std::vector<Case> pooling_and_loss_cases();
std::vector<Case> optimizer_and_reduction_cases();
std::vector<Case> normalization_and_activation_cases();
std::vector<Case> bf16_cases();
// A captured CUDA Graph replayed (on the CPU: the same ops run directly) and, where kestrel is
// built with NCCL and the context is a GPU, a one-rank NCCL all-reduce.
std::vector<Case> runtime_cases(const Context& target);

}  // namespace kestrel::selftest
