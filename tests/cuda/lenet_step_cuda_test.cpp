// A whole LeNet-5 training step (the lab's network: conv 1->6 k5, ReLU, max-pool 2, conv 6->16
// k5, ReLU, max-pool 2, fc 256->120->84->10, cross-entropy, Adam) run op by op on the CPU and
// on the GPU from the same parameters and batch. Loss, every gradient and the updated
// parameters must agree: relative L2 error under 1e-4 in strict FP32 (updates too: Adam's
// first step is about lr * sign(g), which a tiny gradient near zero can flip).
#include <gtest/gtest.h>

#include <map>
#include <string>

#include "engine/ops/activation.hpp"
#include "engine/ops/conv2d.hpp"
#include "engine/ops/cross_entropy.hpp"
#include "engine/ops/linear.hpp"
#include "engine/ops/pool2d.hpp"
#include "engine/optim/adam.hpp"
#include "tests/cuda/cuda_support.hpp"

namespace kestrel {
namespace {

using test::gpu0;

struct Shapes {
  static constexpr int64_t kBatch = 32;
};

// Parameters by PyTorch name, on one device.
using Params = std::map<std::string, Tensor>;

Params lenet_params(std::mt19937_64& gen) {
  Params p;
  const auto add = [&](const std::string& name, Shape s, float scale) {
    p[name] = test::random_tensor(s, gen, -scale, scale);
  };
  add("conv1.weight", Shape{6, 1, 5, 5}, 0.2f);
  add("conv1.bias", Shape{6}, 0.2f);
  add("conv2.weight", Shape{16, 6, 5, 5}, 0.08f);
  add("conv2.bias", Shape{16}, 0.08f);
  add("fc1.weight", Shape{120, 256}, 0.06f);
  add("fc1.bias", Shape{120}, 0.06f);
  add("fc2.weight", Shape{84, 120}, 0.09f);
  add("fc2.bias", Shape{84}, 0.09f);
  add("fc3.weight", Shape{10, 84}, 0.1f);
  add("fc3.bias", Shape{10}, 0.1f);
  return p;
}

struct StepResult {
  float loss = 0.0f;
  Params grads, updated;
};

StepResult train_step(const Context& ctx, const Params& host_params, const Tensor& host_x,
                      const Tensor& host_labels) {
  const Device d = ctx.device();
  const int64_t n = host_x.dim(0);
  Params p;
  for (const auto& [name, t] : host_params) p[name] = t.to(d);
  const Tensor x = host_x.to(d), labels = host_labels.to(d);
  const auto empty = [&](Shape s, DType t = DType::F32) { return Tensor::empty(s, t, d); };
  const ops::Pool2dSpec pool{2, 2, 2, 2};
  const ops::Conv2dSpec conv{};

  // Forward.
  Tensor c1 = empty(Shape{n, 6, 24, 24}), p1 = empty(Shape{n, 6, 12, 12});
  Tensor a1 = empty(Shape{n, 6, 12, 12}, DType::I32);
  Tensor c2 = empty(Shape{n, 16, 8, 8}), p2 = empty(Shape{n, 16, 4, 4});
  Tensor a2 = empty(Shape{n, 16, 4, 4}, DType::I32);
  Tensor f1 = empty(Shape{n, 120}), f2 = empty(Shape{n, 84}), logits = empty(Shape{n, 10});
  ops::conv2d_forward(ctx, x, p["conv1.weight"], &p["conv1.bias"], c1, conv);
  ops::relu_forward(ctx, c1, c1);
  ops::max_pool2d_forward(ctx, c1, p1, a1, pool);
  ops::conv2d_forward(ctx, p1, p["conv2.weight"], &p["conv2.bias"], c2, conv);
  ops::relu_forward(ctx, c2, c2);
  ops::max_pool2d_forward(ctx, c2, p2, a2, pool);
  const Tensor flat = p2.flatten(1);
  ops::linear_forward(ctx, flat, p["fc1.weight"], &p["fc1.bias"], f1, /*relu=*/true);
  ops::linear_forward(ctx, f1, p["fc2.weight"], &p["fc2.bias"], f2, /*relu=*/true);
  ops::linear_forward(ctx, f2, p["fc3.weight"], &p["fc3.bias"], logits);

  // Backward.
  StepResult r;
  Params& g = r.grads;
  for (const auto& [name, t] : p) g[name] = empty(t.shape());
  Tensor dlogits = empty(logits.shape());
  r.loss = ops::cross_entropy_forward_backward(ctx, logits, labels, &dlogits, {});
  Tensor df2 = empty(f2.shape()), df1 = empty(f1.shape()), dflat = empty(flat.shape());
  ops::linear_backward_weight(ctx, f2, dlogits, g["fc3.weight"]);
  ops::linear_backward_bias(ctx, dlogits, g["fc3.bias"]);
  ops::linear_backward_data(ctx, dlogits, p["fc3.weight"], df2);
  ops::relu_backward(ctx, f2, df2, df2);
  ops::linear_backward_weight(ctx, f1, df2, g["fc2.weight"]);
  ops::linear_backward_bias(ctx, df2, g["fc2.bias"]);
  ops::linear_backward_data(ctx, df2, p["fc2.weight"], df1);
  ops::relu_backward(ctx, f1, df1, df1);
  ops::linear_backward_weight(ctx, flat, df1, g["fc1.weight"]);
  ops::linear_backward_bias(ctx, df1, g["fc1.bias"]);
  ops::linear_backward_data(ctx, df1, p["fc1.weight"], dflat);
  Tensor dc2 = empty(c2.shape()), dp1 = empty(p1.shape()), dc1 = empty(c1.shape());
  ops::max_pool2d_backward(ctx, dflat.view(p2.shape()), a2, dc2, pool);
  ops::relu_backward(ctx, c2, dc2, dc2);
  ops::conv2d_backward_weight(ctx, p1, dc2, g["conv2.weight"], conv);
  ops::conv2d_backward_bias(ctx, dc2, g["conv2.bias"]);
  ops::conv2d_backward_data(ctx, dc2, p["conv2.weight"], dp1, conv);
  ops::max_pool2d_backward(ctx, dp1, a1, dc1, pool);
  ops::relu_backward(ctx, c1, dc1, dc1);
  ops::conv2d_backward_weight(ctx, x, dc1, g["conv1.weight"], conv);
  ops::conv2d_backward_bias(ctx, dc1, g["conv1.bias"]);

  // One Adam step per parameter tensor.
  for (auto& [name, t] : p) {
    optim::Adam adam(optim::AdamOptions{});
    Tensor flat_param = t.view(Shape{t.numel()});
    adam.step(ctx, flat_param, g[name].view(Shape{t.numel()}));
  }
  r.updated = p;
  return r;
}

TEST(CudaLenetStep, ForwardBackwardAndAdamMatchCpu) {
  KESTREL_SKIP_WITHOUT_GPU();
  std::mt19937_64 gen(test::test_seed());
  const Params params = lenet_params(gen);
  const Tensor x = test::random_tensor(Shape{Shapes::kBatch, 1, 28, 28}, gen, 0.0f, 1.0f);
  const Tensor labels = test::random_labels(Shapes::kBatch, 10, gen);

  Context cpu, gpu(gpu0());
  gpu.set_math({.tf32 = false, .deterministic = true});
  const StepResult want = train_step(cpu, params, x, labels);
  const StepResult got = train_step(gpu, params, x, labels);
  EXPECT_NEAR(got.loss, want.loss, 1e-5 * std::abs(want.loss));
  for (const auto& [name, g] : want.grads) {
    EXPECT_LT(test::relative_l2_error(g, got.grads.at(name)), 1e-4) << "gradient of " << name;
    EXPECT_LT(test::relative_l2_error(want.updated.at(name), got.updated.at(name)), 1e-4)
        << "updated " << name;
  }
}

}  // namespace
}  // namespace kestrel
