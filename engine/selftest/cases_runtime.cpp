// The runtime's GPU-only machinery, each against the same work run directly on the reference:
// a CUDA Graph captured from a product and an activation and replayed, and a one-rank NCCL
// all-reduce (a sum over one rank returns its input).
#include <limits>

#include "engine/dist/local_communicator.hpp"
#include "engine/ops/activation.hpp"
#include "engine/ops/linear.hpp"
#include "engine/selftest/case.hpp"

#if defined(KESTREL_HAVE_CUDA)
#include "engine/runtime/cuda/captured_graph.hpp"
#endif
#if defined(KESTREL_HAVE_NCCL)
#include "engine/dist/cuda/nccl_communicator.hpp"
#endif

namespace kestrel::selftest {

namespace {

std::vector<Output> graph(const Context& ctx, uint64_t seed) {
  std::mt19937_64 gen(seed);
  const Tensor x = random_input(ctx, Shape{8, 16}, gen), w = random_input(ctx, Shape{12, 16}, gen);
  const Tensor b = random_input(ctx, Shape{12}, gen);
  Tensor y = poisoned(ctx, Shape{8, 12}), z = poisoned(ctx, Shape{8, 12});
  const auto queue = [&] {
    ops::linear_forward(ctx, x, w, &b, y, /*relu=*/false);
    ops::tanh_forward(ctx, y, z);
  };
#if defined(KESTREL_HAVE_CUDA)
  if (ctx.is_cuda()) {
    queue();  // eagerly once: the workspace and handles exist before the capture
    y.fill(std::numeric_limits<float>::quiet_NaN());
    z.fill(std::numeric_limits<float>::quiet_NaN());
    const cuda::CapturedGraph captured(ctx.stream(), queue);
    captured.launch(ctx.stream());
    return {output("y", y), output("z", z)};
  }
#endif
  queue();
  return {output("y", y), output("z", z)};
}

// Unused where NCCL is not built.
[[maybe_unused]] std::vector<Output> all_reduce(const Context& ctx, uint64_t seed) {
  std::mt19937_64 gen(seed);
  Tensor t = random_input(ctx, Shape{4099}, gen);
  dist::LocalCommunicator local;
#if defined(KESTREL_HAVE_NCCL)
  if (ctx.is_cuda()) {
    const auto nccl = dist::make_nccl_communicator(local, ctx.device().index, 30.0);
    nccl->all_reduce_sum(t.data<float>(), t.numel());
    return {output("sum", t)};
  }
#endif
  local.all_reduce_sum(t.data<float>(), t.numel());
  return {output("sum", t)};
}

}  // namespace

std::vector<Case> runtime_cases(const Context& target) {
  std::vector<Case> cases{{"cuda_graph (linear + tanh, captured and replayed)",
                           {.rtol = 1e-5, .atol = 1e-5},
                           false,
                           graph}};
#if defined(KESTREL_HAVE_NCCL)
  if (target.is_cuda())
    cases.push_back({"nccl.all_reduce (one rank)", {.rtol = 0.0, .atol = 0.0}, false, all_reduce});
#else
  (void)target;
#endif
  return cases;
}

}  // namespace kestrel::selftest
