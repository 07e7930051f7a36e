// Attention on the GPU against the CPU backend on the same inputs, outputs and buffers
// poisoned first: row softmax (one warp per row) forward and backward on short and long rows,
// in place; batched_matmul (cublasGemmStridedBatchedEx per sample) for every transpose pair;
// multihead_self_attention forward and backward without dropout, with dropout (the same mask:
// Philox at the same indices, and from the step in device memory) and in evaluation; a rerun's
// bits; the residual graph's step. Tolerance: the GPU sums in other orders (warp shuffles,
// cuBLAS's blocking) but in f32 products (pedantic math, no TF32) and double softmax sums, so
// results agree to f32 rounding of the sums. Compiled; never run on a GPU so far.
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <cstdint>
#include <vector>

#include "engine/nn/add.hpp"
#include "engine/nn/flatten.hpp"
#include "engine/nn/graph.hpp"
#include "engine/nn/multihead_attention.hpp"
#include "engine/ops/attention.hpp"
#include "engine/ops/batched_matmul.hpp"
#include "engine/ops/softmax.hpp"
#include "tests/cuda/cuda_support.hpp"

namespace kestrel {
namespace {

using test::gpu0;
using test::gpu_matches_cpu;
using test::poisoned;

TEST(CudaSoftmax, ForwardAndBackwardMatchCpu) {
  KESTREL_SKIP_WITHOUT_GPU();
  std::mt19937_64 gen(test::test_seed() + 300);
  Context cpu, gpu(gpu0());
  for (const Shape& shape : {Shape{5, 1}, Shape{3, 31}, Shape{7, 33}, Shape{2, 4, 1000},
                             Shape{70000, 3}}) {
    SCOPED_TRACE(test::name_of(shape));
    const Tensor x = test::random_tensor(shape, gen, -6.0f, 6.0f),
                 dy = test::random_tensor(shape, gen);
    Tensor y = poisoned(shape), dx = poisoned(shape);
    Tensor gy = poisoned(shape, gpu0()), gdx = poisoned(shape, gpu0());
    ops::softmax_forward(cpu, x, y);
    ops::softmax_backward(cpu, y, dy, dx);
    ops::softmax_forward(gpu, x.to(gpu0()), gy);
    ops::softmax_backward(gpu, gy, dy.to(gpu0()), gdx);
    EXPECT_TRUE(gpu_matches_cpu(y, gy, 1e-5, 1e-7)) << "y";
    EXPECT_TRUE(gpu_matches_cpu(dx, gdx, 1e-4, 1e-6)) << "dx";
    // In place on the GPU: the same bits as out of place.
    Tensor inplace = x.to(gpu0());
    ops::softmax_forward(gpu, inplace, inplace);
    EXPECT_TRUE(test::same_bits(gy, inplace));
    Tensor grad = dy.to(gpu0());
    ops::softmax_backward(gpu, gy, grad, grad);
    EXPECT_TRUE(test::same_bits(gdx, grad));
  }
}

TEST(CudaBatchedMatmul, EveryTransposePairMatchesCpu) {
  KESTREL_SKIP_WITHOUT_GPU();
  std::mt19937_64 gen(test::test_seed() + 301);
  Context cpu, gpu(gpu0());
  for (int t = 0; t < 4; ++t) {
    kernels::BatchedGemm g;
    g.outer = 3, g.inner = 2, g.m = 9, g.n = 5, g.k = 7;
    g.trans_a = (t & 1) != 0, g.trans_b = (t & 2) != 0;
    g.alpha = 0.5f, g.beta = 0.25f;
    // Column blocks of rows 2 * 9 + 1 wide: two matrices side by side per sample.
    const int64_t ld = 19;
    g.a = {ld, 9 * ld, 9}, g.b = {ld, 9 * ld, 9}, g.c = {ld, 9 * ld, 9};
    const Shape span{3 * 9 * ld};
    const Tensor a = test::random_tensor(span, gen), b = test::random_tensor(span, gen);
    Tensor c = test::random_tensor(span, gen);
    Tensor gc = c.to(gpu0());
    const Tensor ga = a.to(gpu0()), gb = b.to(gpu0());
    ops::batched_matmul(cpu, g, a.data<float>(), b.data<float>(), c.data<float>());
    ops::batched_matmul(gpu, g, ga.data<float>(), gb.data<float>(), gc.data<float>());
    EXPECT_TRUE(gpu_matches_cpu(c, gc, 1e-5, 1e-5)) << "trans_a " << g.trans_a << " trans_b "
                                                    << g.trans_b;
  }
}

// One case on one device: inputs copied there, every output and buffer poisoned.
struct AttnRun {
  Tensor x, w_in, b_in, w_out, b_out, dy;
  ops::AttentionBuffers buffers;
  Tensor y, dx, dw_in, db_in, dw_out, db_out;

  AttnRun(const std::vector<Tensor>& host, int64_t heads, Device d)
      : x(host[0].to(d)),
        w_in(host[1].to(d)),
        b_in(host[2].to(d)),
        w_out(host[3].to(d)),
        b_out(host[4].to(d)),
        dy(host[5].to(d)) {
    const ops::AttentionBufferShapes s = ops::attention_buffer_shapes(x.shape(), heads);
    buffers = {poisoned(s.qkv, d),   poisoned(s.probs, d),  poisoned(s.dropped, d),
               poisoned(s.heads, d), poisoned(s.dheads, d), poisoned(s.dqkv, d)};
    y = poisoned(x.shape(), d), dx = poisoned(x.shape(), d);
    dw_in = poisoned(w_in.shape(), d), db_in = poisoned(b_in.shape(), d);
    dw_out = poisoned(w_out.shape(), d), db_out = poisoned(b_out.shape(), d);
  }

  void step(const Context& ctx, const ops::AttentionSpec& spec) {
    const ops::AttentionWeights w{w_in, b_in, w_out, b_out};
    ops::multihead_self_attention_forward(ctx, x, w, buffers, y, spec);
    ops::multihead_self_attention_backward(ctx, x, dy, w, buffers,
                                           {&dx, &dw_in, &db_in, &dw_out, &db_out}, spec);
  }
};

void expect_matches(const AttnRun& c, const AttnRun& g) {
  EXPECT_TRUE(gpu_matches_cpu(c.buffers.probs, g.buffers.probs, 1e-4, 1e-6)) << "probs";
  EXPECT_TRUE(gpu_matches_cpu(c.y, g.y, 1e-4, 1e-5)) << "y";
  EXPECT_TRUE(gpu_matches_cpu(c.dx, g.dx, 1e-4, 1e-5)) << "dx";
  EXPECT_TRUE(gpu_matches_cpu(c.dw_in, g.dw_in, 1e-4, 1e-5)) << "in_proj_weight";
  EXPECT_TRUE(gpu_matches_cpu(c.db_in, g.db_in, 1e-4, 1e-5)) << "in_proj_bias";
  EXPECT_TRUE(gpu_matches_cpu(c.dw_out, g.dw_out, 1e-4, 1e-5)) << "out_proj.weight";
  EXPECT_TRUE(gpu_matches_cpu(c.db_out, g.db_out, 1e-4, 1e-5)) << "out_proj.bias";
}

struct Dims {
  int64_t n, t, d, h;
};

class CudaAttention : public ::testing::TestWithParam<Dims> {};

TEST_P(CudaAttention, ForwardAndBackwardMatchCpu) {
  KESTREL_SKIP_WITHOUT_GPU();
  const Dims s = GetParam();
  std::mt19937_64 gen(test::test_seed() + 302);
  Context cpu, gpu(gpu0());
  const std::vector<Tensor> host{test::random_tensor(Shape{s.n, s.t, s.d}, gen),
                                 test::random_tensor(Shape{3 * s.d, s.d}, gen, -0.5f, 0.5f),
                                 test::random_tensor(Shape{3 * s.d}, gen),
                                 test::random_tensor(Shape{s.d, s.d}, gen),
                                 test::random_tensor(Shape{s.d}, gen),
                                 test::random_tensor(Shape{s.n, s.t, s.d}, gen)};
  for (const auto& [p, training] : {std::pair{0.0f, true}, std::pair{0.3f, true},
                                    std::pair{0.3f, false}}) {
    SCOPED_TRACE(testing::Message() << "p " << p << (training ? " training" : " eval"));
    ops::AttentionSpec spec;
    spec.num_heads = s.h;
    spec.training = training;
    spec.dropout = {p, gen(), kernels::dropout_stream(7, 3)};
    AttnRun on_cpu(host, s.h, Device::cpu()), on_gpu(host, s.h, gpu0());
    on_cpu.step(cpu, spec);
    on_gpu.step(gpu, spec);
    expect_matches(on_cpu, on_gpu);
    // A rerun gives the same bits; so does the step read from device memory.
    AttnRun again(host, s.h, gpu0());
    Tensor step = Tensor::empty(Shape{1}, DType::I64);
    step.data<int64_t>()[0] = 7;
    const Tensor device_step = step.to(gpu0());
    ops::AttentionSpec on_device = spec;
    on_device.dropout.stream = 0;
    on_device.dropout.step_on_device = device_step.data<int64_t>();
    on_device.dropout.layer = 3;
    again.step(gpu, on_device);
    for (const auto& [first, second] :
         {std::pair{on_gpu.y, again.y}, std::pair{on_gpu.dx, again.dx},
          std::pair{on_gpu.dw_in, again.dw_in}, std::pair{on_gpu.dw_out, again.dw_out}})
      EXPECT_TRUE(test::same_bits(first, second));
  }
}

INSTANTIATE_TEST_SUITE_P(Shapes, CudaAttention,
                         ::testing::Values(Dims{2, 5, 8, 2}, Dims{1, 1, 4, 1}, Dims{3, 7, 12, 4},
                                           Dims{4, 65, 64, 4}, Dims{2, 197, 96, 3}),
                         [](const ::testing::TestParamInfo<Dims>& p) {
                           return fmt::format("N{}T{}D{}H{}", p.param.n, p.param.t,
                                              p.param.d, p.param.h);
                         });

TEST(CudaAttentionGraph, ResidualStepMatchesCpu) {
  KESTREL_SKIP_WITHOUT_GPU();
  std::mt19937_64 gen(test::test_seed() + 303);
  const auto make = [] {
    nn::Graph g;
    const nn::ValueId a =
        g.node<nn::MultiheadAttention>({nn::Graph::kInput}, "attn0", 16, 4, 0.2f);
    const nn::ValueId b = g.node<nn::MultiheadAttention>({a}, "attn1", 16, 2, 0.2f);
    g.node<nn::Add>({a, b}, "add");
    g.add<nn::Flatten>("flatten");
    return g;
  };
  Context cpu, gpu(gpu0());
  nn::Graph on_cpu = make(), on_gpu = make();
  on_cpu.build(cpu, Shape{9, 16}, 3, 9 * 16);
  on_gpu.build(gpu, Shape{9, 16}, 3, 9 * 16);
  const uint64_t seed = gen();
  on_cpu.initialize(cpu, init::InitScheme::PyTorchDefault, seed);
  on_gpu.initialize(gpu, init::InitScheme::PyTorchDefault, seed);
  // The same Philox draws (tests/cuda/init_cuda_test.cpp's tolerance for the scaling).
  EXPECT_TRUE(gpu_matches_cpu(on_cpu.parameters(), on_gpu.parameters(), 1e-6, 1e-7));
  const Tensor x = test::random_tensor(Shape{3, 9, 16}, gen);
  const Tensor r = test::random_tensor(Shape{3, 9 * 16}, gen);
  const Tensor y = on_cpu.forward(cpu, x, true, 5);
  const Tensor gy = on_gpu.forward(gpu, x.to(gpu0()), true, 5);
  EXPECT_TRUE(gpu_matches_cpu(y, gy, 1e-4, 1e-5));
  Tensor dl = Tensor::empty(r.shape());
  dl.copy_from(r);
  on_cpu.backward(cpu, dl);
  on_gpu.backward(gpu, r.to(gpu0()));
  EXPECT_TRUE(gpu_matches_cpu(on_cpu.gradients(), on_gpu.gradients(), 1e-4, 1e-5));
}

}  // namespace
}  // namespace kestrel
