// add, accumulate and concat_channels on the GPU against the CPU backend on the same random
// inputs, outputs poisoned first. Tolerance: none. The sums are the same left-to-right chain of
// IEEE f32 additions on both devices (no multiplications, so nothing to contract into an FMA)
// and concatenation copies values, so the GPU must give the CPU's bits.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "engine/ops/add.hpp"
#include "engine/ops/concat.hpp"
#include "tests/cuda/cuda_support.hpp"
#include "tests/support/errors.hpp"

namespace kestrel {
namespace {

using test::gpu0;
using test::poisoned;

std::vector<Tensor> to_gpu(const std::vector<Tensor>& host) {
  std::vector<Tensor> device;
  for (const Tensor& t : host) device.push_back(t.to(gpu0()));
  return device;
}

TEST(CudaAdd, ForwardAndAccumulateMatchCpu) {
  KESTREL_SKIP_WITHOUT_GPU();
  std::mt19937_64 gen(test::test_seed() + 50);
  Context cpu, gpu(gpu0());
  // 2 and 3 inputs in one launch, 10 and 17 over several (kMaxSumOperands is 8).
  for (const Shape& s : {Shape{1, 7}, Shape{33, 129}, Shape{2, 5, 9, 11}, Shape{16, 64, 28, 28}}) {
    for (int count : {2, 3, 10, 17}) {
      SCOPED_TRACE(::testing::Message() << count << " inputs of " << s.str());
      std::vector<Tensor> inputs;
      for (int k = 0; k < count; ++k) inputs.push_back(test::random_tensor(s, gen));
      const std::vector<Tensor> ginputs = to_gpu(inputs);
      Tensor out = Tensor::empty(s), gout = poisoned(s, gpu0());
      ops::add_forward(cpu, inputs, out);
      ops::add_forward(gpu, ginputs, gout);
      EXPECT_TRUE(test::same_bits(out, gout));
      // In place into input 0 (a copy, so that the inputs stay for the next case).
      std::vector<Tensor> ginplace = to_gpu(inputs);
      Tensor gfirst = ginplace[0];
      ops::add_forward(gpu, ginplace, gfirst);
      EXPECT_TRUE(test::same_bits(out, ginplace[0]));
      // accumulate: inputs[0] += inputs[1].
      Tensor acc = inputs[0].to(Device::cpu()), gacc = ginputs[0].to(gpu0());
      ops::accumulate(cpu, inputs[1], acc);
      ops::accumulate(gpu, ginputs[1], gacc);
      EXPECT_TRUE(test::same_bits(acc, gacc));
    }
  }
}

TEST(CudaAdd, TensorsOnAnotherDeviceAreErrors) {
  KESTREL_SKIP_WITHOUT_GPU();
  Context gpu(gpu0());
  const Tensor a = Tensor::zeros(Shape{2, 3}, DType::F32, gpu0()), b = Tensor::zeros(Shape{2, 3});
  Tensor out = Tensor::zeros(Shape{2, 3}, DType::F32, gpu0());
  test::expect_error(
      [&] {
        ops::add_forward(gpu, std::vector<Tensor>{a, b}, out);
      },
      "add: input 1 is on cpu but the op runs on " + gpu0().str());
  test::expect_error(
      [&] {
        ops::concat_channels_forward(gpu, std::vector<Tensor>{a, b}, out);
      },
      "concat_channels: input 1 is on cpu but the op runs on " + gpu0().str());
}

struct ConcatCudaCase {
  Shape shape;  // dimension 1 is ignored
  std::vector<int64_t> channels;
};

TEST(CudaConcat, ForwardBackwardMatchCpu) {
  KESTREL_SKIP_WITHOUT_GPU();
  std::mt19937_64 gen(test::test_seed() + 51);
  Context cpu, gpu(gpu0());
  for (const ConcatCudaCase& c :
       {ConcatCudaCase{Shape{1, 0}, {3, 5}}, ConcatCudaCase{Shape{7, 0}, {1, 5, 2}},
        ConcatCudaCase{Shape{1, 0, 5, 7}, {1, 5}}, ConcatCudaCase{Shape{3, 0, 7, 5}, {5, 1, 3, 0}},
        ConcatCudaCase{Shape{2, 0, 4, 4}, {6}},
        ConcatCudaCase{Shape{64, 0, 28, 28}, {64, 32, 96, 1}}}) {
    Shape out_shape = c.shape;
    out_shape[1] = 0;
    std::vector<Tensor> inputs;
    for (int64_t ch : c.channels) {
      Shape s = c.shape;
      s[1] = ch;
      inputs.push_back(test::random_tensor(s, gen));
      out_shape[1] += ch;
    }
    SCOPED_TRACE(::testing::Message() << out_shape.str() << " from " << inputs.size());
    const std::vector<Tensor> ginputs = to_gpu(inputs);
    Tensor out = Tensor::empty(out_shape), gout = poisoned(out_shape, gpu0());
    ops::concat_channels_forward(cpu, inputs, out);
    ops::concat_channels_forward(gpu, ginputs, gout);
    EXPECT_TRUE(test::same_bits(out, gout));

    // Backward with every entry, then with entry 0 null (its tensor must stay poisoned).
    const Tensor dout = test::random_tensor(out_shape, gen), gdout = dout.to(gpu0());
    for (bool first_null : {false, true}) {
      std::vector<Tensor> grads, ggrads;
      std::vector<Tensor*> d, gd;
      for (const Tensor& in : inputs) {
        grads.push_back(Tensor::empty(in.shape()));
        ggrads.push_back(poisoned(in.shape(), gpu0()));
      }
      for (size_t k = 0; k < inputs.size(); ++k) {
        d.push_back(first_null && k == 0 ? nullptr : &grads[k]);
        gd.push_back(first_null && k == 0 ? nullptr : &ggrads[k]);
      }
      ops::concat_channels_backward(cpu, dout, d);
      ops::concat_channels_backward(gpu, gdout, gd);
      for (size_t k = 0; k < inputs.size(); ++k) {
        SCOPED_TRACE(::testing::Message() << "grad_input " << k << ", first null " << first_null);
        if (d[k] != nullptr)
          EXPECT_TRUE(test::same_bits(grads[k], ggrads[k]));
        else
          EXPECT_TRUE(test::same_bits(poisoned(inputs[k].shape(), Device::cpu()), ggrads[k]));
      }
    }
  }
}

// cat(x, x) on the GPU, and its backward into one gradient per use.
TEST(CudaConcat, SameTensorTwice) {
  KESTREL_SKIP_WITHOUT_GPU();
  std::mt19937_64 gen(test::test_seed() + 52);
  Context cpu, gpu(gpu0());
  const Tensor x = test::random_tensor(Shape{4, 3, 9, 9}, gen), gx = x.to(gpu0());
  Tensor out = Tensor::empty(Shape{4, 6, 9, 9}), gout = poisoned(Shape{4, 6, 9, 9}, gpu0());
  ops::concat_channels_forward(cpu, std::vector<Tensor>{x, x}, out);
  ops::concat_channels_forward(gpu, std::vector<Tensor>{gx, gx}, gout);
  EXPECT_TRUE(test::same_bits(out, gout));
  Tensor g0 = poisoned(x.shape(), gpu0()), g1 = poisoned(x.shape(), gpu0());
  std::vector<Tensor*> gd{&g0, &g1};
  ops::concat_channels_backward(gpu, gout, gd);
  EXPECT_TRUE(test::same_bits(x, g0));
  EXPECT_TRUE(test::same_bits(x, g1));
}

}  // namespace
}  // namespace kestrel
