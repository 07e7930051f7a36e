// add (the sum of a residual connection) and accumulate (the sum of a value's gradients) against
// a float64 reference and against the left-to-right f32 sum they promise bit for bit. No
// central differences: both ops are linear, their backward is the identity (add has none, the
// graph passes the output's gradient to every input), and checking the sum itself exactly is
// the stronger test.
#include "engine/ops/add.hpp"

#include <gtest/gtest.h>

#include <ostream>
#include <vector>

#include "kernels/cpu/parallel.hpp"
#include "tests/support/compare.hpp"
#include "tests/support/errors.hpp"
#include "tests/support/poison.hpp"
#include "tests/support/random.hpp"

namespace kestrel {
namespace {

using test::expect_error;

std::vector<Tensor> random_inputs(const Shape& shape, int count, std::mt19937_64& gen) {
  std::vector<Tensor> inputs;
  for (int k = 0; k < count; ++k) inputs.push_back(test::random_tensor(shape, gen));
  return inputs;
}

std::vector<double> sum_reference(const std::vector<Tensor>& inputs) {
  std::vector<double> sum(static_cast<size_t>(inputs[0].numel()), 0.0);
  for (const Tensor& t : inputs) {
    const std::vector<double> v = test::to_double(t);
    for (size_t i = 0; i < sum.size(); ++i) sum[i] += v[i];
  }
  return sum;
}

// The sum as add_forward promises it: inputs[0] + inputs[1] + ..., left to right, in f32.
std::vector<float> f32_chain(const std::vector<Tensor>& inputs) {
  std::vector<float> sum = inputs[0].to_vector();
  for (size_t k = 1; k < inputs.size(); ++k) {
    const std::vector<float> v = inputs[k].to_vector();
    for (size_t i = 0; i < sum.size(); ++i) sum[i] += v[i];
  }
  return sum;
}

// k - 1 f32 roundings of partial sums of k values in [-1, 1): at most (k - 1) * k * 2^-24.
double sum_tolerance(int count) { return (count - 1) * count * 6e-8; }

struct AddCase {
  Shape shape;
  int inputs;
};
void PrintTo(const AddCase& c, std::ostream* os) { *os << c.inputs << " x " << c.shape.str(); }

class AddTest : public ::testing::TestWithParam<AddCase> {
 protected:
  Context ctx;
  const Shape& shape() const { return GetParam().shape; }
  int count() const { return GetParam().inputs; }
};

TEST_P(AddTest, ForwardMatchesReference) {
  std::mt19937_64 gen(test::test_seed() + 30);
  const std::vector<Tensor> inputs = random_inputs(shape(), count(), gen);
  Tensor out = test::poisoned(shape());
  ops::add_forward(ctx, inputs, out);
  EXPECT_TRUE(test::all_close(sum_reference(inputs), out, 0.0, sum_tolerance(count())));
  EXPECT_TRUE(test::same_bits(f32_chain(inputs), out.to_vector()));
}

TEST_P(AddTest, InPlaceIntoTheFirstInput) {
  std::mt19937_64 gen(test::test_seed() + 31);
  std::vector<Tensor> inputs = random_inputs(shape(), count(), gen);
  const std::vector<float> expected = f32_chain(inputs);
  const std::vector<double> reference = sum_reference(inputs);
  Tensor out = inputs[0];  // a view of the same memory
  ops::add_forward(ctx, inputs, out);
  EXPECT_TRUE(test::all_close(reference, inputs[0], 0.0, sum_tolerance(count())));
  EXPECT_TRUE(test::same_bits(expected, inputs[0].to_vector()));
}

TEST_P(AddTest, AccumulateMatchesReference) {
  std::mt19937_64 gen(test::test_seed() + 32);
  const std::vector<Tensor> inputs = random_inputs(shape(), 2, gen);
  Tensor dst = Tensor::empty(shape());
  dst.copy_from(inputs[0]);
  ops::accumulate(ctx, inputs[1], dst);
  EXPECT_TRUE(test::all_close(sum_reference(inputs), dst, 0.0, sum_tolerance(2)));
  EXPECT_TRUE(test::same_bits(f32_chain(inputs), dst.to_vector()));
}

INSTANTIATE_TEST_SUITE_P(ShapesAndCounts, AddTest,
                         ::testing::Values(AddCase{Shape{1, 7}, 2}, AddCase{Shape{1, 1}, 3},
                                           AddCase{Shape{5, 13}, 3}, AddCase{Shape{1, 3, 5, 7}, 2},
                                           AddCase{Shape{2, 5, 9, 11}, 3},
                                           AddCase{Shape{3, 4, 6, 6}, 8},
                                           AddCase{Shape{2, 3, 7, 5}, 9},
                                           AddCase{Shape{4, 33}, 17}));

// The same input more than once (x + x + x) is allowed (not in place: see AddErrors.Overlap).
TEST(Add, RepeatedInput) {
  Context ctx;
  std::mt19937_64 gen(test::test_seed() + 33);
  const Tensor x = test::random_tensor(Shape{3, 4, 5}, gen);
  const std::vector<Tensor> inputs{x, x, x};
  Tensor out = test::poisoned(x.shape());
  ops::add_forward(ctx, inputs, out);
  EXPECT_TRUE(test::same_bits(f32_chain(inputs), out.to_vector()));
}

// Accumulating several gradients in turn gives the left-to-right f32 sum of them.
TEST(Add, AccumulateInTurn) {
  Context ctx;
  std::mt19937_64 gen(test::test_seed() + 34);
  const std::vector<Tensor> grads = random_inputs(Shape{2, 3, 4, 4}, 4, gen);
  Tensor dst = Tensor::empty(grads[0].shape());
  dst.copy_from(grads[0]);
  for (size_t k = 1; k < grads.size(); ++k) ops::accumulate(ctx, grads[k], dst);
  EXPECT_TRUE(test::same_bits(f32_chain(grads), dst.to_vector()));
}

TEST(Add, BitwiseEqualAcrossThreadCounts) {
  Context ctx;
  std::mt19937_64 gen(test::test_seed() + 35);
  const Shape shape{8, 16, 17, 19};  // above kMinParallelWork
  const std::vector<Tensor> inputs = random_inputs(shape, 10, gen);
  Tensor out[2], acc[2];
  for (int t = 0; t < 2; ++t) {
    cpu::set_num_threads(t + 1);
    out[t] = test::poisoned(shape);
    ops::add_forward(ctx, inputs, out[t]);
    acc[t] = Tensor::empty(shape);
    acc[t].copy_from(inputs[0]);
    ops::accumulate(ctx, inputs[1], acc[t]);
  }
  cpu::set_num_threads(0);
  EXPECT_TRUE(test::same_bits(out[0], out[1]));
  EXPECT_TRUE(test::same_bits(acc[0], acc[1]));
}

TEST(AddErrors, CountsShapesAndDtypes) {
  Context ctx;
  const Tensor a = Tensor::zeros(Shape{2, 3, 4}), b = Tensor::zeros(Shape{2, 3, 4});
  const Tensor wrong = Tensor::zeros(Shape{2, 4, 3}),
               ints = Tensor::zeros(Shape{2, 3, 4}, DType::I32);
  Tensor out = Tensor::zeros(Shape{2, 3, 4}), bad_out = Tensor::zeros(Shape{2, 3, 5});
  expect_error([&] { ops::add_forward(ctx, std::vector<Tensor>{a}, out); },
               "add: needs at least 2 inputs, got 1");
  expect_error(
      [&] {
        ops::add_forward(ctx, std::vector<Tensor>{a, b, wrong}, out);
      },
      "add: input 2 has shape [2, 4, 3], expected [2, 3, 4]");
  expect_error(
      [&] {
        ops::add_forward(ctx, std::vector<Tensor>{a, ints}, out);
      },
      "add: input 1 must be f32, got i32[2, 3, 4]");
  expect_error(
      [&] {
        ops::add_forward(ctx, std::vector<Tensor>{a, b}, bad_out);
      },
      "add: output has shape [2, 3, 5], expected [2, 3, 4]");
  expect_error(
      [&] {
        ops::add_forward(ctx, std::vector<Tensor>{a, Tensor()}, out);
      },
      "add: input 1 is undefined");
  Tensor dst = Tensor::zeros(Shape{2, 3, 4});
  expect_error([&] { ops::accumulate(ctx, wrong, dst); },
               "accumulate: dst has shape [2, 3, 4], expected [2, 4, 3]");
  expect_error([&] { ops::accumulate(ctx, ints, dst); }, "accumulate: src must be f32, got i32");
}

TEST(AddErrors, Overlap) {
  Context ctx;
  const Tensor buffer = Tensor::zeros(Shape{4, 6});
  const Tensor a = buffer.slice(0, 2), b = buffer.slice(2, 4), shifted = buffer.slice(1, 3);
  // Only input 0 may be the output.
  Tensor out = b;
  expect_error(
      [&] {
        ops::add_forward(ctx, std::vector<Tensor>{a, b}, out);
      },
      "add: output f32[2, 6] on cpu overlaps input 1 (only input 0 may be the output)");
  out = a;
  expect_error(
      [&] {
        ops::add_forward(ctx, std::vector<Tensor>{a, b, a}, out);
      },
      "overlaps input 2");
  // x += x: the output is input 0 but also input 1.
  Tensor x = a;
  expect_error([&] { ops::add_forward(ctx, std::vector<Tensor>{a, a}, x); }, "overlaps input 1");
  // Partly over input 0 is not in place.
  out = shifted;
  expect_error(
      [&] {
        ops::add_forward(ctx, std::vector<Tensor>{a, Tensor::zeros(Shape{2, 6})}, out);
      },
      "add: output f32[2, 6] on cpu partially overlaps input 0");
  Tensor dst = a;
  expect_error([&] { ops::accumulate(ctx, a, dst); },
               "accumulate: dst f32[2, 6] on cpu overlaps src");
  dst = shifted;
  expect_error([&] { ops::accumulate(ctx, b, dst); },
               "accumulate: dst f32[2, 6] on cpu overlaps src");
  // Neighbouring views of one buffer do not overlap.
  dst = b;
  EXPECT_NO_THROW(ops::accumulate(ctx, a, dst));
}

}  // namespace
}  // namespace kestrel
