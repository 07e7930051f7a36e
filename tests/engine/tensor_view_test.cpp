// Tensor views: view, flatten, slice and sub share the data and give the right shapes, byte
// offsets and error messages.
#include <gtest/gtest.h>

#include <numeric>

#include "engine/tensor/tensor.hpp"
#include "tests/support/errors.hpp"
#include "tests/support/printers.hpp"

namespace kestrel {
namespace {

// f32 tensor holding 0, 1, 2, ... so that an element's value is its flat index.
Tensor iota(const Shape& shape) {
  std::vector<float> v(static_cast<size_t>(shape.numel()));
  std::iota(v.begin(), v.end(), 0.0f);
  return Tensor::from_vector(shape, v);
}

using test::expect_error;

TEST(TensorView, ViewSharesDataWithANewShape) {
  Tensor t = iota(Shape{2, 3, 4});
  Tensor v = t.view(Shape{6, 4});
  EXPECT_EQ(v.shape(), (Shape{6, 4}));
  EXPECT_EQ(v.raw_data(), t.raw_data());
  EXPECT_EQ(v.offset_bytes(), 0u);
  v.data<float>()[5] = -1.0f;  // writes go through to the viewed tensor
  EXPECT_EQ(t.data<float>()[5], -1.0f);
  expect_error([&] { (void)t.view(Shape{5, 5}); },
               "view: cannot view f32[2, 3, 4] on cpu as [5, 5]");
}

TEST(TensorView, FlattenMergesTheGivenDimensions) {
  const Tensor t = iota(Shape{2, 3, 4, 5});
  EXPECT_EQ(t.flatten().shape(), (Shape{2, 60}));  // default: keep the batch dimension
  EXPECT_EQ(t.flatten(0).shape(), (Shape{120}));
  EXPECT_EQ(t.flatten(1, 2).shape(), (Shape{2, 12, 5}));
  EXPECT_EQ(t.flatten(-2, -1).shape(), (Shape{2, 3, 20}));
  EXPECT_EQ(t.flatten(2, 2).shape(), (Shape{2, 3, 4, 5}));
  EXPECT_EQ(t.flatten().raw_data(), t.raw_data());
  EXPECT_EQ(iota(Shape{7}).flatten(0).shape(), (Shape{7}));
}

TEST(TensorView, FlattenOutOfRangeIsAnError) {
  const Tensor t = iota(Shape{2, 3, 4, 5});
  expect_error([&] { (void)t.flatten(2, 1); },
               "flatten: dimensions [2, 1] out of range for f32[2, 3, 4, 5] on cpu");
  expect_error([&] { (void)t.flatten(1, 4); },
               "flatten: dimensions [1, 4] out of range for f32[2, 3, 4, 5] on cpu");
  expect_error([&] { (void)iota(Shape{7}).flatten(); },
               "flatten: dimensions [1, 0] out of range for f32[7] on cpu");
}

TEST(TensorView, SliceTakesRowsAtAByteOffset) {
  const Tensor t = iota(Shape{5, 3});
  const Tensor s = t.slice(1, 4);
  EXPECT_EQ(s.shape(), (Shape{3, 3}));
  EXPECT_EQ(s.offset_bytes(), 3 * sizeof(float));
  EXPECT_EQ(s.data<float>()[0], 3.0f);
  EXPECT_EQ(s.to_vector().back(), 11.0f);
  const Tensor ss = s.slice(1, 2);  // offsets accumulate
  EXPECT_EQ(ss.shape(), (Shape{1, 3}));
  EXPECT_EQ(ss.offset_bytes(), 6 * sizeof(float));
  EXPECT_EQ(ss.data<float>()[0], 6.0f);
  EXPECT_EQ(t.slice(5, 5).shape(), (Shape{0, 3}));
  // The offset counts the element size of the dtype.
  const Tensor bytes = Tensor::zeros(Shape{4, 3}, DType::U8);
  EXPECT_EQ(bytes.slice(2, 4).offset_bytes(), 6u);
  // A flattened slice keeps its offset.
  const Tensor f = iota(Shape{4, 2, 3}).slice(1, 3).flatten();
  EXPECT_EQ(f.shape(), (Shape{2, 6}));
  EXPECT_EQ(f.offset_bytes(), 6 * sizeof(float));
  EXPECT_EQ(f.data<float>()[0], 6.0f);
}

TEST(TensorView, SliceOutOfRangeIsAnError) {
  const Tensor t = iota(Shape{5, 3});
  expect_error([&] { (void)t.slice(2, 6); },
               "slice: rows [2, 6) out of range for f32[5, 3] on cpu");
  expect_error([&] { (void)t.slice(3, 2); },
               "slice: rows [3, 2) out of range for f32[5, 3] on cpu");
  expect_error([&] { (void)t.slice(-1, 2); },
               "slice: rows [-1, 2) out of range for f32[5, 3] on cpu");
}

TEST(TensorView, SubTakesAShapedViewAtAnElementOffset) {
  const Tensor flat = iota(Shape{20});
  const Tensor w = flat.sub(5, Shape{3, 4});
  EXPECT_EQ(w.shape(), (Shape{3, 4}));
  EXPECT_EQ(w.offset_bytes(), 5 * sizeof(float));
  EXPECT_EQ(w.data<float>()[0], 5.0f);
  EXPECT_EQ(w.to_vector().back(), 16.0f);
  const Tensor b = w.sub(2, Shape{4});  // offsets accumulate
  EXPECT_EQ(b.offset_bytes(), 7 * sizeof(float));
  EXPECT_EQ(b.to_vector(), (std::vector<float>{7, 8, 9, 10}));
  EXPECT_EQ(flat.sub(20, Shape{0}).numel(), 0);
  expect_error([&] { (void)flat.sub(10, Shape{3, 4}); },
               "sub: 12 elements at offset 10 exceed f32[20] on cpu");
  expect_error([&] { (void)flat.sub(-1, Shape{2}); },
               "sub: 2 elements at offset -1 exceed f32[20] on cpu");
}

}  // namespace
}  // namespace kestrel
