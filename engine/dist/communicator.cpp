#include "engine/dist/communicator.hpp"

#include <fmt/format.h>

#include "engine/ops/checks.hpp"
#include "engine/ops/dispatch.hpp"
#include "kernels/common/scale.hpp"

namespace kestrel::dist {

void Communicator::all_reduce_sum(float* data, int64_t n) {
  start_all_reduce_sum(data, n);
  finish_all_reduces();
}

void all_reduce_average(Communicator& comm, const Context& ctx, Tensor& t) {
  ops::detail::check_tensor("all_reduce_average", "tensor", t, ctx, -1);
  comm.all_reduce_sum(t.data<float>(), t.numel());
  if (comm.size() == 1) return;
  ops::detail::launch_elementwise(
      ctx, t.numel(),
      kernels::ScaleInPlace{t.data<float>(), 1.0f / static_cast<float>(comm.size())});
}

std::string describe_rank(const Communicator& comm) {
  return fmt::format("rank {} of {}", comm.rank(), comm.size());
}

}  // namespace kestrel::dist
