// concat_channels (torch.cat(inputs, dim=1)) against a float64 reference that places each
// input's channels by index arithmetic, and its backward slice by slice. The values are copied,
// never computed, so everything is compared bit for bit. No central differences: the op is
// linear and its backward a copy of dout's slices, which is checked exactly here (the stronger
// test).
#include "engine/ops/concat.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <limits>
#include <ostream>
#include <string>
#include <vector>

#include "kernels/cpu/parallel.hpp"
#include "tests/support/compare.hpp"
#include "tests/support/errors.hpp"
#include "tests/support/poison.hpp"
#include "tests/support/random.hpp"

namespace kestrel {
namespace {

using test::expect_error;

Shape with_channels(Shape s, int64_t c) {
  s[1] = c;
  return s;
}

int64_t inner_of(const Shape& s) {
  int64_t inner = 1;
  for (int d = 2; d < s.ndim(); ++d) inner *= s[d];
  return inner;
}

// out[n, offset_k + c, p] = inputs[k][n, c, p], in float64.
std::vector<double> concat_reference(const std::vector<Tensor>& inputs) {
  int64_t total = 0;
  for (const Tensor& t : inputs) total += t.dim(1);
  const int64_t n_rows = inputs[0].dim(0), inner = inner_of(inputs[0].shape());
  std::vector<double> out(static_cast<size_t>(n_rows * total * inner));
  int64_t offset = 0;
  for (const Tensor& t : inputs) {
    const std::vector<double> v = test::to_double(t);
    const int64_t c_k = t.dim(1);
    for (int64_t n = 0; n < n_rows; ++n)
      for (int64_t c = 0; c < c_k; ++c)
        for (int64_t p = 0; p < inner; ++p)
          out[static_cast<size_t>((n * total + offset + c) * inner + p)] =
              v[static_cast<size_t>((n * c_k + c) * inner + p)];
    offset += c_k;
  }
  return out;
}

// dout[:, offset : offset + channels] as a tensor of `shape`, in float64.
std::vector<double> slice_reference(const Tensor& dout, int64_t offset, const Shape& shape) {
  const std::vector<double> v = test::to_double(dout);
  const int64_t total = dout.dim(1), c_k = shape[1], inner = inner_of(shape);
  std::vector<double> out(static_cast<size_t>(shape.numel()));
  for (int64_t n = 0; n < shape[0]; ++n)
    for (int64_t c = 0; c < c_k; ++c)
      for (int64_t p = 0; p < inner; ++p)
        out[static_cast<size_t>((n * c_k + c) * inner + p)] =
            v[static_cast<size_t>((n * total + offset + c) * inner + p)];
  return out;
}

struct ConcatCase {
  std::string name;
  Shape shape;  // dimension 1 is ignored
  std::vector<int64_t> channels;
};
void PrintTo(const ConcatCase& c, std::ostream* os) { *os << c.name << " " << c.shape.str(); }

class ConcatTest : public ::testing::TestWithParam<ConcatCase> {
 protected:
  Context ctx;
  std::vector<Shape> input_shapes() const {
    std::vector<Shape> shapes;
    for (int64_t c : GetParam().channels) shapes.push_back(with_channels(GetParam().shape, c));
    return shapes;
  }
  Shape output_shape() const {
    int64_t total = 0;
    for (int64_t c : GetParam().channels) total += c;
    return with_channels(GetParam().shape, total);
  }
  std::vector<Tensor> random_inputs(std::mt19937_64& gen) const {
    std::vector<Tensor> inputs;
    for (const Shape& s : input_shapes()) inputs.push_back(test::random_tensor(s, gen));
    return inputs;
  }
};

TEST_P(ConcatTest, ForwardMatchesReference) {
  std::mt19937_64 gen(test::test_seed() + 40);
  const std::vector<Tensor> inputs = random_inputs(gen);
  Tensor out = test::poisoned(output_shape());
  ops::concat_channels_forward(ctx, inputs, out);
  EXPECT_TRUE(test::all_close(concat_reference(inputs), out, 0.0, 0.0));
}

TEST_P(ConcatTest, BackwardCopiesEachSlice) {
  std::mt19937_64 gen(test::test_seed() + 41);
  const Tensor dout = test::random_tensor(output_shape(), gen);
  std::vector<Tensor> grads;
  for (const Shape& s : input_shapes()) grads.push_back(test::poisoned(s));
  std::vector<Tensor*> dinputs;
  for (Tensor& g : grads) dinputs.push_back(&g);
  ops::concat_channels_backward(ctx, dout, dinputs);
  int64_t offset = 0;
  for (size_t k = 0; k < grads.size(); ++k) {
    EXPECT_TRUE(
        test::all_close(slice_reference(dout, offset, grads[k].shape()), grads[k], 0.0, 0.0))
        << "grad_input " << k;
    offset += grads[k].dim(1);
  }
}

// Each input's gradient alone (the others null), and every other one null: the slices are
// placed right and the tensors of the null entries are left as they were.
TEST_P(ConcatTest, BackwardSkipsNullEntries) {
  std::mt19937_64 gen(test::test_seed() + 42);
  const Tensor dout = test::random_tensor(output_shape(), gen);
  const std::vector<Shape> shapes = input_shapes();
  const size_t count = shapes.size();
  std::vector<std::vector<bool>> patterns;
  for (size_t only = 0; only < count; ++only) {
    std::vector<bool> p(count, false);
    p[only] = true;
    patterns.push_back(p);
  }
  std::vector<bool> alternate(count);
  for (size_t k = 0; k < count; ++k) alternate[k] = k % 2 == 1;
  patterns.push_back(alternate);
  for (const std::vector<bool>& present : patterns) {
    std::vector<Tensor> grads;
    for (const Shape& s : shapes) grads.push_back(test::poisoned(s));
    std::vector<Tensor*> dinputs;
    std::vector<int64_t> channels;
    for (size_t k = 0; k < count; ++k) {
      dinputs.push_back(present[k] ? &grads[k] : nullptr);
      channels.push_back(shapes[k][1]);
    }
    // Without channel counts where the null entries allow it (none between two nulls), and
    // always with them.
    for (bool with_counts : {false, true}) {
      size_t first = count, last = 0;
      for (size_t k = 0; k < count; ++k)
        if (!present[k]) first = std::min(first, k), last = k;
      bool placeable = true;
      for (size_t k = first + 1; k < last; ++k) placeable = placeable && !present[k];
      if (!with_counts && !placeable) continue;
      for (Tensor& g : grads) g.fill(std::numeric_limits<float>::quiet_NaN());
      if (with_counts)
        ops::concat_channels_backward(ctx, dout, channels, dinputs);
      else
        ops::concat_channels_backward(ctx, dout, dinputs);
      int64_t offset = 0;
      for (size_t k = 0; k < count; ++k) {
        SCOPED_TRACE(::testing::Message() << "grad_input " << k << ", present " << present[k]
                                          << ", with counts " << with_counts);
        if (present[k])
          EXPECT_TRUE(
              test::all_close(slice_reference(dout, offset, shapes[k]), grads[k], 0.0, 0.0));
        else
          EXPECT_TRUE(test::same_bits(test::poisoned(shapes[k]), grads[k]));
        offset += shapes[k][1];
      }
    }
  }
}

// Forward then backward gives each input back, bit for bit.
TEST_P(ConcatTest, BackwardOfForwardIsTheInputs) {
  std::mt19937_64 gen(test::test_seed() + 43);
  const std::vector<Tensor> inputs = random_inputs(gen);
  Tensor out = test::poisoned(output_shape());
  ops::concat_channels_forward(ctx, inputs, out);
  std::vector<Tensor> back;
  for (const Shape& s : input_shapes()) back.push_back(test::poisoned(s));
  std::vector<Tensor*> dinputs;
  for (Tensor& b : back) dinputs.push_back(&b);
  ops::concat_channels_backward(ctx, out, dinputs);
  for (size_t k = 0; k < inputs.size(); ++k)
    EXPECT_TRUE(test::same_bits(inputs[k], back[k])) << "input " << k;
}

INSTANTIATE_TEST_SUITE_P(
    Shapes, ConcatTest,
    ::testing::Values(ConcatCase{"one_input", Shape{2, 0, 3, 3}, {4}},
                      ConcatCase{"flat_batch1", Shape{1, 0}, {3, 5}},
                      ConcatCase{"flat_odd", Shape{7, 0}, {1, 5, 2}},
                      ConcatCase{"images_batch1", Shape{1, 0, 5, 7}, {1, 5}},
                      ConcatCase{"images_odd", Shape{3, 0, 7, 5}, {5, 1, 3}},
                      ConcatCase{"three_dims", Shape{2, 0, 9}, {2, 1}},
                      ConcatCase{"inception", Shape{2, 0, 4, 4}, {5, 1, 3, 5}},
                      ConcatCase{"empty_input", Shape{2, 0, 3, 2}, {2, 0, 3}},
                      // Rows of 16,770 to 50,310 elements: the host copies
                      // them in pieces of 16,384.
                      ConcatCase{"long_rows", Shape{2, 0, 129, 130}, {1, 3, 2}}),
    [](const ::testing::TestParamInfo<ConcatCase>& param) { return param.param.name; });

// cat(x, x): x's channels twice.
TEST(Concat, SameTensorTwice) {
  Context ctx;
  std::mt19937_64 gen(test::test_seed() + 44);
  const Tensor x = test::random_tensor(Shape{2, 3, 4, 5}, gen);
  const std::vector<Tensor> inputs{x, x};
  Tensor out = test::poisoned(Shape{2, 6, 4, 5});
  ops::concat_channels_forward(ctx, inputs, out);
  EXPECT_TRUE(test::all_close(concat_reference(inputs), out, 0.0, 0.0));
  // Its backward: one gradient per use.
  Tensor d0 = test::poisoned(x.shape()), d1 = test::poisoned(x.shape());
  std::vector<Tensor*> dinputs{&d0, &d1};
  ops::concat_channels_backward(ctx, out, dinputs);
  EXPECT_TRUE(test::same_bits(x, d0));
  EXPECT_TRUE(test::same_bits(x, d1));
}

TEST(Concat, BitwiseEqualAcrossThreadCounts) {
  Context ctx;
  std::mt19937_64 gen(test::test_seed() + 45);
  // Every input's copy above kMinParallelWork (the smallest: 16 * 9 * 256 elements).
  const std::vector<Tensor> inputs{test::random_tensor(Shape{16, 16, 16, 16}, gen),
                                   test::random_tensor(Shape{16, 9, 16, 16}, gen),
                                   test::random_tensor(Shape{16, 32, 16, 16}, gen)};
  const Shape out_shape{16, 57, 16, 16};
  const Tensor dout = test::random_tensor(out_shape, gen);
  Tensor out[2], grads[2][3];
  for (int t = 0; t < 2; ++t) {
    cpu::set_num_threads(t + 1);
    out[t] = test::poisoned(out_shape);
    ops::concat_channels_forward(ctx, inputs, out[t]);
    std::vector<Tensor*> dinputs;
    for (int k = 0; k < 3; ++k) {
      grads[t][k] = test::poisoned(inputs[static_cast<size_t>(k)].shape());
      dinputs.push_back(&grads[t][k]);
    }
    ops::concat_channels_backward(ctx, dout, dinputs);
  }
  cpu::set_num_threads(0);
  EXPECT_TRUE(test::same_bits(out[0], out[1]));
  for (int k = 0; k < 3; ++k) EXPECT_TRUE(test::same_bits(grads[0][k], grads[1][k]));
}

TEST(ConcatErrors, ForwardShapesAndDtypes) {
  Context ctx;
  const Tensor a = Tensor::zeros(Shape{2, 3, 4, 4}), b = Tensor::zeros(Shape{2, 5, 4, 4});
  Tensor out = Tensor::zeros(Shape{2, 8, 4, 4});
  expect_error([&] { ops::concat_channels_forward(ctx, std::vector<Tensor>{}, out); },
               "concat_channels: needs at least 1 input, got none");
  expect_error(
      [&] {
        ops::concat_channels_forward(ctx, std::vector<Tensor>{a, Tensor::zeros(Shape{2, 5, 4, 3})},
                                     out);
      },
      "concat_channels: input 1 has shape [2, 5, 4, 3], which differs from input 0's "
      "[2, 3, 4, 4] outside dimension 1");
  expect_error(
      [&] {
        ops::concat_channels_forward(ctx, std::vector<Tensor>{a, Tensor::zeros(Shape{3, 5, 4, 4})},
                                     out);
      },
      "concat_channels: input 1 has shape [3, 5, 4, 4], which differs from input 0's "
      "[2, 3, 4, 4] outside dimension 1");
  expect_error(
      [&] {
        ops::concat_channels_forward(ctx, std::vector<Tensor>{a, Tensor::zeros(Shape{2, 5, 16})},
                                     out);
      },
      "concat_channels: input 1 has shape [2, 5, 16], which differs from input 0's");
  Tensor flat_out = Tensor::zeros(Shape{6});
  expect_error(
      [&] {
        ops::concat_channels_forward(ctx, std::vector<Tensor>{Tensor::zeros(Shape{6})}, flat_out);
      },
      "concat_channels: input 0 must have at least 2 dimensions (N, C, ...), got [6]");
  Tensor wrong = Tensor::zeros(Shape{2, 7, 4, 4});
  expect_error(
      [&] {
        ops::concat_channels_forward(ctx, std::vector<Tensor>{a, b}, wrong);
      },
      "concat_channels: output has shape [2, 7, 4, 4], expected [2, 8, 4, 4]");
  expect_error(
      [&] {
        ops::concat_channels_forward(
            ctx, std::vector<Tensor>{a, Tensor::zeros(Shape{2, 5, 4, 4}, DType::I32)}, out);
      },
      "concat_channels: input 1 must be f32, got i32[2, 5, 4, 4]");
}

TEST(ConcatErrors, ForwardOverlap) {
  Context ctx;
  Tensor buffer = Tensor::zeros(Shape{2, 8, 3});
  const Tensor part = buffer.sub(0, Shape{2, 2, 3});
  expect_error(
      [&] {
        ops::concat_channels_forward(ctx, std::vector<Tensor>{Tensor::zeros(Shape{2, 6, 3}), part},
                                     buffer);
      },
      "concat_channels: output f32[2, 8, 3] on cpu overlaps input 1");
}

TEST(ConcatErrors, BackwardShapesNullsAndOverlap) {
  Context ctx;
  const Tensor dout = Tensor::zeros(Shape{2, 8, 3, 3});
  Tensor a = Tensor::zeros(Shape{2, 3, 3, 3}), b = Tensor::zeros(Shape{2, 4, 3, 3});
  Tensor c = Tensor::zeros(Shape{2, 1, 3, 3}), bad = Tensor::zeros(Shape{2, 5, 3, 2});
  std::vector<Tensor*> short_of{&a, &b};
  expect_error([&] { ops::concat_channels_backward(ctx, dout, short_of); },
               "concat_channels_backward: the inputs' channel counts sum to 7 but grad_output "
               "[2, 8, 3, 3] has 8 channels");
  std::vector<Tensor*> wrong_shape{&a, &bad};
  expect_error([&] { ops::concat_channels_backward(ctx, dout, wrong_shape); },
               "concat_channels_backward: grad_input 1 has shape [2, 5, 3, 2], which differs "
               "from grad_output's [2, 8, 3, 3] outside dimension 1");
  Tensor big = Tensor::zeros(Shape{2, 9, 3, 3});
  std::vector<Tensor*> too_many{&big, nullptr};
  expect_error([&] { ops::concat_channels_backward(ctx, dout, too_many); },
               "concat_channels_backward: the grad_inputs have 9 channels in all, more than "
               "grad_output [2, 8, 3, 3]");
  std::vector<Tensor*> between{nullptr, &b, nullptr};
  expect_error([&] { ops::concat_channels_backward(ctx, dout, between); },
               "concat_channels_backward: grad_input 1 lies between the null entries 0 and 2");
  const std::vector<int64_t> counts{3, 4, 1};
  std::vector<Tensor*> three{&a, &b, &c};
  EXPECT_NO_THROW(ops::concat_channels_backward(ctx, dout, counts, between));
  expect_error(
      [&] {
        ops::concat_channels_backward(ctx, dout, std::vector<int64_t>{3, 5}, short_of);
      },
      "concat_channels_backward: grad_input 1 has shape [2, 4, 3, 3], expected 5 channels");
  expect_error(
      [&] {
        ops::concat_channels_backward(ctx, dout, std::vector<int64_t>{3, 4}, three);
      },
      "concat_channels_backward: 2 channel counts for 3 grad_inputs");
  expect_error(
      [&] {
        ops::concat_channels_backward(ctx, dout, std::vector<int64_t>{4, 3, 1}, three);
      },
      "concat_channels_backward: grad_input 0 has shape [2, 3, 3, 3], expected 4 channels");
  Tensor int_grad = Tensor::zeros(Shape{2, 8, 3, 3}, DType::I32);
  std::vector<Tensor*> ints{&int_grad};
  expect_error([&] { ops::concat_channels_backward(ctx, dout, ints); },
               "concat_channels_backward: grad_input 0 must be f32, got i32[2, 8, 3, 3]");
  // One tensor for both uses of an input, or a gradient inside dout: refused.
  Tensor four = Tensor::zeros(Shape{2, 4, 3, 3});
  std::vector<Tensor*> same{&four, &four};
  expect_error([&] { ops::concat_channels_backward(ctx, dout, same); },
               "concat_channels_backward: grad_input 0 and grad_input 1 overlap");
  Tensor whole = Tensor::zeros(Shape{2, 8, 3, 3});
  Tensor inside = whole.sub(0, Shape{2, 8, 3, 3});
  std::vector<Tensor*> aliasing{&inside};
  expect_error(
      [&] { ops::concat_channels_backward(ctx, whole, aliasing); },
      "concat_channels_backward: grad_input 0 f32[2, 8, 3, 3] on cpu overlaps grad_output");
}

}  // namespace
}  // namespace kestrel
