// The ViT token-level ops on the GPU against the CPU backend on the same inputs, outputs poisoned
// first: layer_norm forward and backward (rows of odd lengths, more rows than a block's 8 warps),
// linear on [N, T, D] (fp32), the token ops (patches, class token, position embedding in place,
// select) and drop_path, then the ViT-like graph's training step. Tolerances: layer norm's row
// sums are double on both devices but added in different orders (a warp's butterfly against
// the CPU's index order), so the f32 statistics may differ in the last bit; the token ops and
// drop path copy, add or scale one value per element with the same mask: the same bits.
#include <gtest/gtest.h>

#include <vector>

#include "engine/nn/activation.hpp"
#include "engine/nn/add.hpp"
#include "engine/nn/conv2d.hpp"
#include "engine/nn/drop_path.hpp"
#include "engine/nn/graph.hpp"
#include "engine/nn/layer_norm.hpp"
#include "engine/nn/linear.hpp"
#include "engine/nn/tokens.hpp"
#include "engine/ops/cross_entropy.hpp"
#include "engine/ops/drop_path.hpp"
#include "engine/ops/layer_norm.hpp"
#include "engine/ops/linear.hpp"
#include "engine/ops/tokens.hpp"
#include "tests/cuda/cuda_support.hpp"

namespace kestrel {
namespace {

using test::gpu0;
using test::gpu_matches_cpu;
using test::poisoned;

class CudaLayerNorm : public ::testing::TestWithParam<Shape> {};

TEST_P(CudaLayerNorm, ForwardBackwardMatchCpu) {
  KESTREL_SKIP_WITHOUT_GPU();
  const Shape shape = GetParam();
  const int64_t d = shape.dim(-1);
  const Shape stats = ops::layer_norm_stats_shape(shape);
  std::mt19937_64 gen(test::test_seed() + 701);
  const Tensor x = test::random_tensor(shape, gen, -2.0f, 3.0f),
               dy = test::random_tensor(shape, gen);
  const Tensor w = test::random_tensor(Shape{d}, gen, 0.5f, 1.5f),
               b = test::random_tensor(Shape{d}, gen);
  struct Run {
    Tensor y, mean, rstd, dx, dw, db;
  };
  const auto run = [&](Device dev) {
    const Context ctx(dev);
    Run r{poisoned(shape, dev), poisoned(stats, dev),    poisoned(stats, dev),
          poisoned(shape, dev), poisoned(Shape{d}, dev), poisoned(Shape{d}, dev)};
    const Tensor gx = x.to(dev), gdy = dy.to(dev), gw = w.to(dev), gb = b.to(dev);
    ops::layer_norm_forward(ctx, gx, gw, gb, r.y, r.mean, r.rstd, 1e-6);
    ops::layer_norm_backward(ctx, gx, gdy, gw, r.mean, r.rstd, &r.dx, &r.dw, &r.db);
    return r;
  };
  const Run cpu = run(Device::cpu()), gpu = run(gpu0()), again = run(gpu0());
  EXPECT_TRUE(gpu_matches_cpu(cpu.mean, gpu.mean, 1e-6, 1e-7)) << "mean";
  EXPECT_TRUE(gpu_matches_cpu(cpu.rstd, gpu.rstd, 1e-6, 0.0)) << "rstd";
  EXPECT_TRUE(gpu_matches_cpu(cpu.y, gpu.y, 1e-5, 1e-5)) << "y";
  EXPECT_TRUE(gpu_matches_cpu(cpu.dx, gpu.dx, 1e-4, 1e-5)) << "dx";
  EXPECT_TRUE(gpu_matches_cpu(cpu.dw, gpu.dw, 1e-5, 1e-5)) << "dweight";
  EXPECT_TRUE(gpu_matches_cpu(cpu.db, gpu.db, 1e-5, 1e-5)) << "dbias";
  // Fixed reduction trees: a rerun gives the same bits.
  EXPECT_TRUE(test::same_bits(gpu.y, again.y));
  EXPECT_TRUE(test::same_bits(gpu.dx, again.dx));
  EXPECT_TRUE(test::same_bits(gpu.dw, again.dw));
}

INSTANTIATE_TEST_SUITE_P(Shapes, CudaLayerNorm,
                         ::testing::Values(Shape{2, 5, 7}, Shape{3, 17, 768}, Shape{1, 1, 1},
                                           Shape{9, 33}, Shape{4, 65, 192}),
                         [](const ::testing::TestParamInfo<Shape>& p) {
                           return test::name_of(p.param);
                         });

TEST(CudaVitOps, LinearOnTokensMatchesCpu) {
  KESTREL_SKIP_WITHOUT_GPU();
  std::mt19937_64 gen(test::test_seed() + 702);
  const Shape in_shape{3, 17, 24}, out_shape{3, 17, 40};
  const Tensor x = test::random_tensor(in_shape, gen), w = test::random_tensor(Shape{40, 24}, gen),
               b = test::random_tensor(Shape{40}, gen), dy = test::random_tensor(out_shape, gen);
  std::vector<Tensor> outs[2];
  for (int k = 0; k < 2; ++k) {
    const Device dev = k == 0 ? Device::cpu() : gpu0();
    const Context ctx(dev);
    Tensor y = poisoned(out_shape, dev), dx = poisoned(in_shape, dev),
           dw = poisoned(w.shape(), dev), db = poisoned(b.shape(), dev);
    const Tensor gx = x.to(dev), gw = w.to(dev), gb = b.to(dev), gdy = dy.to(dev);
    ops::linear_forward(ctx, gx, gw, &gb, y);
    ops::linear_backward_data(ctx, gdy, gw, dx);
    ops::linear_backward_weight(ctx, gx, gdy, dw);
    ops::linear_backward_bias(ctx, gdy, db);
    outs[k] = {y, dx, dw, db};
  }
  for (size_t i = 0; i < outs[0].size(); ++i)
    EXPECT_TRUE(gpu_matches_cpu(outs[0][i], outs[1][i], 1e-4, 1e-4)) << "output " << i;
}

TEST(CudaVitOps, TokenOpsAndDropPathGiveTheCpuBits) {
  KESTREL_SKIP_WITHOUT_GPU();
  std::mt19937_64 gen(test::test_seed() + 703);
  const int64_t n = 5, d = 12, t = 6;
  const Tensor img = test::random_tensor(Shape{n, d, 2, 3}, gen),
               token = test::random_tensor(Shape{1, 1, d}, gen),
               pos = test::random_tensor(Shape{1, t + 1, d}, gen),
               dy = test::random_tensor(Shape{n, t + 1, d}, gen),
               dsel = test::random_tensor(Shape{n, d}, gen);
  const kernels::DropoutSpec spec{0.4f, gen(), gen()};
  std::vector<Tensor> outs[2];
  for (int k = 0; k < 2; ++k) {
    const Device dev = k == 0 ? Device::cpu() : gpu0();
    const Context ctx(dev);
    Tensor tokens = poisoned(Shape{n, t, d}, dev), with_cls = poisoned(Shape{n, t + 1, d}, dev),
           sel = poisoned(Shape{n, d}, dev), dx_sel = poisoned(Shape{n, t + 1, d}, dev),
           dpos = poisoned(pos.shape(), dev), dtoken = poisoned(token.shape(), dev),
           dx_cls = poisoned(Shape{n, t, d}, dev), dimg = poisoned(img.shape(), dev),
           dropped = poisoned(Shape{n, t + 1, d}, dev),
           ddropped = poisoned(Shape{n, t + 1, d}, dev);
    const Tensor gimg = img.to(dev), gtoken = token.to(dev), gpos = pos.to(dev), gdy = dy.to(dev),
                 gdsel = dsel.to(dev);
    ops::patch_tokens_forward(ctx, gimg, tokens);
    ops::class_token_forward(ctx, tokens, gtoken, with_cls);
    ops::position_embedding_forward(ctx, with_cls, gpos, with_cls);  // in place
    ops::select_token_forward(ctx, with_cls, 0, sel);
    ops::select_token_backward(ctx, gdsel, 0, dx_sel);
    ops::position_embedding_backward(ctx, gdy, nullptr, &dpos);
    ops::class_token_backward(ctx, gdy, &dx_cls, &dtoken);
    ops::patch_tokens_backward(ctx, dx_cls, dimg);
    ops::drop_path_forward(ctx, with_cls, dropped, spec, true);
    ops::drop_path_backward(ctx, gdy, ddropped, spec, true);
    outs[k] = {tokens, with_cls, sel, dx_sel, dpos, dtoken, dx_cls, dimg, dropped, ddropped};
  }
  for (size_t i = 0; i < outs[0].size(); ++i)
    EXPECT_TRUE(test::same_bits(outs[0][i], outs[1][i])) << "output " << i;
}

TEST(CudaVitOps, GraphStepMatchesCpu) {
  KESTREL_SKIP_WITHOUT_GPU();
  std::mt19937_64 gen(test::test_seed() + 704);
  const Shape image{3, 8, 8};
  const int64_t batch = 4, classes = 5, hidden = 16;
  const Tensor images = test::random_tensor(Shape{batch, 3, 8, 8}, gen);
  const Tensor labels = test::random_labels(batch, static_cast<int32_t>(classes), gen);
  std::vector<float> grads[2];
  Tensor logits[2];
  for (int k = 0; k < 2; ++k) {
    const Device dev = k == 0 ? Device::cpu() : gpu0();
    const Context ctx(dev);
    nn::Graph g;
    g.add<nn::Conv2d>("conv_proj", 3, hidden, 4, nn::Conv2dOptions{.stride = 4});
    g.add<nn::PatchTokens>("patch_tokens");
    g.add<nn::ClassToken>("class_token", hidden);
    g.add<nn::PositionEmbedding>("encoder", 5, hidden);
    const nn::ValueId x = g.last_value();
    g.add<nn::LayerNorm>("encoder.layers.encoder_layer_0.ln_2", hidden);
    g.add<nn::Linear>("encoder.layers.encoder_layer_0.mlp.0", hidden, 32);
    g.add<nn::GELU>("encoder.layers.encoder_layer_0.mlp.1");
    g.add<nn::Linear>("encoder.layers.encoder_layer_0.mlp.3", 32, hidden);
    g.add<nn::DropPath>("encoder.layers.encoder_layer_0.drop_path", 0.5f);
    g.node<nn::Add>({g.last_value(), x}, "encoder.layers.encoder_layer_0.add");
    g.add<nn::LayerNorm>("encoder.ln", hidden, 1e-6);
    g.add<nn::SelectToken>("class_token_out");
    g.add<nn::Linear>("heads.head", hidden, classes);
    g.build(ctx, image, batch, classes);
    g.initialize(ctx, init::InitScheme::PyTorchDefault, 9);
    const Tensor gi = images.to(dev), gl = labels.to(dev);
    Tensor out = g.forward(ctx, gi, /*training=*/true, 2);
    logits[k] = out.to(Device::cpu());
    ops::cross_entropy_forward_backward(ctx, out, gl, &out);
    g.backward(ctx, out);
    for (const nn::NamedTensor& p : g.named_gradients())
      for (float v : p.tensor.to_vector()) grads[k].push_back(v);
  }
  EXPECT_TRUE(gpu_matches_cpu(logits[0], logits[1], 1e-4, 1e-5));
  std::vector<double> cpu(grads[0].begin(), grads[0].end());
  EXPECT_TRUE(test::all_close(cpu, grads[1], 1e-3, 1e-5));
}

}  // namespace
}  // namespace kestrel
