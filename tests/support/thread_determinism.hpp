#pragma once
// One training pass of a built graph (forward in training mode, mean cross-entropy, backward)
// on 1 and on 2 threads: the logits and the gradients must be the same bytes, and the gradients
// not all zero (a pass that moved nothing would compare equal trivially).
#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <vector>

#include "engine/nn/graph.hpp"
#include "engine/ops/cross_entropy.hpp"
#include "kernels/cpu/parallel.hpp"

namespace kestrel::test {

inline void expect_same_step_on_one_and_two_threads(const Context& ctx, nn::Graph& g,
                                                    const Tensor& x, const Tensor& labels,
                                                    int64_t step) {
  std::vector<std::vector<float>> logits, grads;
  for (int threads : {1, 2}) {
    cpu::set_num_threads(threads);
    Tensor z = g.forward(ctx, x, /*training=*/true, step);
    logits.push_back(z.to_vector());
    ops::cross_entropy_forward_backward(ctx, z, labels, &z);
    g.backward(ctx, z);
    grads.push_back(g.gradients().to_vector());
  }
  cpu::set_num_threads(0);
  ASSERT_EQ(logits[0].size(), logits[1].size());
  EXPECT_EQ(std::memcmp(logits[0].data(), logits[1].data(), logits[0].size() * sizeof(float)), 0);
  ASSERT_EQ(grads[0].size(), grads[1].size());
  EXPECT_EQ(std::memcmp(grads[0].data(), grads[1].data(), grads[0].size() * sizeof(float)), 0);
  double norm = 0;
  for (float v : grads[0]) norm += static_cast<double>(v) * v;
  EXPECT_GT(norm, 0.0);
}

}  // namespace kestrel::test
