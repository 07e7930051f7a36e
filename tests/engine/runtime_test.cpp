// The runtime basics: Shape, Device, DType, kestrel::Error and the check macros, Tensor views
// and where a Tensor's memory comes from.
#include <gtest/gtest.h>

#include <cstring>
#include <functional>
#include <string>
#include <vector>

#include "engine/core/device.hpp"
#include "engine/core/dtype.hpp"
#include "engine/core/shape.hpp"
#include "engine/memory/memory_pool.hpp"
#include "engine/tensor/tensor.hpp"
#include "kernels/common/error.hpp"
#include "tests/support/printers.hpp"

namespace kestrel {
namespace {

// The what() of the kestrel::Error that f throws.
std::string error_text(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "no kestrel::Error thrown";
}

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

// ---- Shape ----

TEST(Shape, NumelAndDims) {
  const Shape s{2, 3, 4};
  EXPECT_EQ(s.ndim(), 3);
  EXPECT_EQ(s.numel(), 24);
  EXPECT_EQ(s[0], 2);
  EXPECT_EQ(s.dim(-1), 4);
  EXPECT_EQ(s.dim(-3), 2);
  EXPECT_EQ(Shape{}.ndim(), 0);
  EXPECT_EQ(Shape{}.numel(), 1);  // a scalar
  EXPECT_EQ((Shape{0, 5}).numel(), 0);
  EXPECT_EQ((Shape{1, 2, 3, 4, 5, 6}).numel(), 720);
}

TEST(Shape, Str) {
  EXPECT_EQ((Shape{2, 3, 32, 32}).str(), "[2, 3, 32, 32]");
  EXPECT_EQ(Shape{7}.str(), "[7]");
  EXPECT_EQ(Shape{}.str(), "[]");
}

TEST(Shape, Equality) {
  EXPECT_EQ((Shape{2, 3}), (Shape{2, 3}));
  EXPECT_NE((Shape{2, 3}), (Shape{3, 2}));
  EXPECT_NE((Shape{2, 3}), (Shape{2, 3, 1}));  // same numel, different rank
  EXPECT_NE((Shape{2, 3}), Shape{6});
  EXPECT_EQ(Shape{}, Shape{});
  const int64_t dims[] = {2, 3};
  EXPECT_EQ(Shape::from(dims, 2), (Shape{2, 3}));
  Shape m{2, 3};
  m[1] = 4;
  EXPECT_EQ(m, (Shape{2, 4}));
}

TEST(Shape, NegativeDimensionIsRejected) {
  EXPECT_TRUE(
      contains(error_text([] { (void)Shape{2, -3}; }), "negative dimension -3 in a shape"));
  const int64_t dims[] = {4, -1};
  EXPECT_TRUE(
      contains(error_text([&] { Shape::from(dims, 2); }), "negative dimension -1 in a shape"));
}

TEST(Shape, MoreThanSixDimensionsAreRejected) {
  EXPECT_EQ((Shape{1, 1, 1, 1, 1, 1}).ndim(), 6);
  EXPECT_TRUE(contains(error_text([] { (void)Shape{1, 2, 3, 4, 5, 6, 7}; }),
                       "a shape has at most 6 dimensions, got 7"));
  const int64_t dims[] = {1, 2, 3, 4, 5, 6, 7};
  EXPECT_TRUE(contains(error_text([&] { Shape::from(dims, 7); }),
                       "a shape has at most 6 dimensions, got 7"));
  EXPECT_TRUE(contains(error_text([&] { Shape::from(dims, -1); }),
                       "a shape has at most 6 dimensions, got -1"));
}

// ---- Device ----

TEST(Device, ParsesCpuAndCuda) {
  EXPECT_EQ(Device::parse("cpu"), Device::cpu());
  EXPECT_TRUE(Device::parse("cpu").is_cpu());
  EXPECT_EQ(Device::parse("cuda"), Device::cuda(0));
  const Device d = Device::parse("cuda:3");
  EXPECT_TRUE(d.is_cuda());
  EXPECT_EQ(d.index, 3);
  EXPECT_EQ(d.str(), "cuda:3");
  EXPECT_EQ(Device::cpu().str(), "cpu");
  EXPECT_NE(Device::cuda(1), Device::cuda(2));
  for (const Device x : {Device::cpu(), Device::cuda(0), Device::cuda(12)})
    EXPECT_EQ(Device::parse(x.str()), x);
}

TEST(Device, RejectsBadStrings) {
  for (const std::string bad : {"", "gpu", "CPU", "cuda:", "cuda:-1", "cuda:1x", "cuda:+1",
                                "cuda3", " cpu", "cuda:99999999999"}) {
    SCOPED_TRACE(bad);
    const std::string text = error_text([&] { Device::parse(bad); });
    EXPECT_TRUE(contains(text, "invalid device '" + bad + "': expected cpu, cuda or cuda:N"))
        << text;
  }
}

// ---- DType ----

TEST(DType, SizesAndNames) {
  EXPECT_EQ(dtype_size(DType::F32), 4u);
  EXPECT_EQ(dtype_size(DType::BF16), 2u);
  EXPECT_EQ(dtype_size(DType::F16), 2u);
  EXPECT_EQ(dtype_size(DType::I32), 4u);
  EXPECT_EQ(dtype_size(DType::I64), 8u);
  EXPECT_EQ(dtype_size(DType::U8), 1u);
  EXPECT_EQ(dtype_name(DType::F32), "f32");
  EXPECT_EQ(dtype_name(DType::BF16), "bf16");
  EXPECT_EQ(dtype_name(DType::F16), "f16");
  EXPECT_EQ(dtype_name(DType::I32), "i32");
  EXPECT_EQ(dtype_name(DType::I64), "i64");
  EXPECT_EQ(dtype_name(DType::U8), "u8");
  EXPECT_EQ(dtype_of<float>::value, DType::F32);
  EXPECT_EQ(dtype_of<int32_t>::value, DType::I32);
  EXPECT_EQ(dtype_of<int64_t>::value, DType::I64);
  EXPECT_EQ(dtype_of<uint8_t>::value, DType::U8);
}

// ---- Error ----

TEST(Error, CheckNamesMessageLocationAndExpression) {
  const int four = 4;
  int line = 0;
  try {
    line = __LINE__ + 1;
    KESTREL_CHECK(four == 5, "value {} is not {}", four, "five");
    FAIL() << "expected kestrel::Error";
  } catch (const Error& e) {
    const std::string location = "runtime_test.cpp:" + std::to_string(line);
    EXPECT_EQ(e.message(), "value 4 is not five");
    EXPECT_EQ(e.location(), location);
    EXPECT_EQ(std::string(e.what()),
              "value 4 is not five [" + location + ": check 'four == 5' failed]");
  }
}

TEST(Error, PassingCheckDoesNotFormat) {
  int formatted = 0;
  auto count = [&] { return ++formatted; };
  KESTREL_CHECK(formatted == 0, "{}", count());
  EXPECT_EQ(formatted, 0);
}

TEST(Error, FailHasNoExpression) {
  int line = 0;
  try {
    line = __LINE__ + 1;
    KESTREL_FAIL("bad {} of {}", "flag", 3);
  } catch (const Error& e) {
    EXPECT_EQ(std::string(e.what()),
              "bad flag of 3 [runtime_test.cpp:" + std::to_string(line) + "]");
    EXPECT_EQ(e.message(), "bad flag of 3");
  }
}

TEST(Error, IsARuntimeError) {
  try {
    throw Error("plain message");
  } catch (const std::runtime_error& e) {
    EXPECT_EQ(std::string(e.what()), "plain message");
  }
}

// ---- Tensor ----

TEST(Tensor, UndefinedTensor) {
  Tensor t;
  EXPECT_FALSE(t.defined());
  EXPECT_EQ(t.str(), "undefined tensor");
  EXPECT_TRUE(contains(error_text([&] { t.raw_data(); }),
                       "access to the data of an undefined tensor"));
}

TEST(Tensor, EmptyHasShapeDtypeAndBytes) {
  const Tensor t = Tensor::empty(Shape{2, 3, 5}, DType::I64);
  EXPECT_TRUE(t.defined());
  EXPECT_EQ(t.shape(), (Shape{2, 3, 5}));
  EXPECT_EQ(t.ndim(), 3);
  EXPECT_EQ(t.dim(-1), 5);
  EXPECT_EQ(t.numel(), 30);
  EXPECT_EQ(t.dtype(), DType::I64);
  EXPECT_EQ(t.nbytes(), 240u);
  EXPECT_EQ(t.device(), Device::cpu());
  EXPECT_EQ(t.str(), "i64[2, 3, 5] on cpu");
  EXPECT_NE(t.raw_data(), nullptr);
}

TEST(Tensor, ZerosClearsReusedMemory) {
  {
    Tensor dirty = Tensor::empty(Shape{4, 33});
    dirty.fill(7.0f);  // its block goes back to the pool dirty and is likely reused below
  }
  const Tensor z = Tensor::zeros(Shape{4, 33});
  for (float v : z.to_vector()) ASSERT_EQ(v, 0.0f);
}

TEST(Tensor, FromVectorRoundTrips) {
  const std::vector<float> values = {1.5f, -2.0f, 3.25f, 0.0f, 5.0f, -6.5f};
  const Tensor t = Tensor::from_vector(Shape{2, 3}, values);
  EXPECT_EQ(t.dtype(), DType::F32);
  EXPECT_EQ(t.to_vector(), values);

  const std::vector<int32_t> labels = {3, 1, 4, 1, 5};
  const Tensor l = Tensor::from_vector(Shape{5}, labels);
  EXPECT_EQ(l.dtype(), DType::I32);
  EXPECT_EQ(l.to_int_vector(), labels);

  EXPECT_TRUE(contains(error_text([&] { Tensor::from_vector(Shape{2, 3}, labels); }),
                       "from_vector: 5 values for shape [2, 3] (6 elements)"));
}

TEST(Tensor, TypedAccessChecksTheDtype) {
  Tensor f = Tensor::zeros(Shape{2, 3});
  const Tensor& cf = f;
  EXPECT_NE(f.data<float>(), nullptr);
  EXPECT_TRUE(contains(error_text([&] { f.data<int32_t>(); }),
                       "tensor f32[2, 3] on cpu accessed as i32"));
  EXPECT_TRUE(contains(error_text([&] { cf.data<uint8_t>(); }),
                       "tensor f32[2, 3] on cpu accessed as u8"));
  const Tensor i = Tensor::zeros(Shape{4}, DType::I32);
  EXPECT_TRUE(
      contains(error_text([&] { i.to_vector(); }), "tensor i32[4] on cpu accessed as f32"));
}

TEST(Tensor, ViewsShareStorage) {
  const std::vector<float> values = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11};
  Tensor t = Tensor::from_vector(Shape{3, 4}, values);

  Tensor v = t.view(Shape{2, 6});
  EXPECT_EQ(v.raw_data(), t.raw_data());
  v.data<float>()[5] = 50.0f;
  EXPECT_EQ(t.to_vector()[5], 50.0f);

  Tensor row = t.slice(1, 3);
  EXPECT_EQ(row.shape(), (Shape{2, 4}));
  EXPECT_EQ(row.offset_bytes(), 16u);
  row.data<float>()[0] = 40.0f;
  EXPECT_EQ(t.to_vector()[4], 40.0f);

  Tensor s = t.sub(9, Shape{3});
  s.fill(-1.0f);
  EXPECT_EQ(t.to_vector()[8], 8.0f);
  EXPECT_EQ(t.to_vector()[9], -1.0f);
  EXPECT_EQ(t.to_vector()[11], -1.0f);

  EXPECT_EQ(t.flatten(0).shape(), Shape{12});
  EXPECT_TRUE(contains(error_text([&] { t.view(Shape{5}); }),
                       "view: cannot view f32[3, 4] on cpu as [5]"));
  EXPECT_TRUE(contains(error_text([&] { t.slice(2, 4); }),
                       "slice: rows [2, 4) out of range for f32[3, 4] on cpu"));
}

TEST(Tensor, MemoryComesFromHostPoolAndReturnsWithTheLastView) {
  MemoryPool& pool = host_pool();
  const PoolStats before = pool.stats();
  Tensor t = Tensor::empty(Shape{1000});  // 4000 bytes, rounded to 4096
  PoolStats now = pool.stats();
  EXPECT_EQ(now.allocations, before.allocations + 1);
  EXPECT_EQ(now.in_use_bytes, before.in_use_bytes + 4096);

  Tensor v = t.view(Shape{10, 100});
  Tensor s = t.slice(10, 20);
  EXPECT_EQ(pool.stats().allocations, before.allocations + 1);  // views allocate nothing
  t = Tensor();
  v = Tensor();
  EXPECT_EQ(pool.stats().in_use_bytes, before.in_use_bytes + 4096);  // s still holds it
  s = Tensor();
  EXPECT_EQ(pool.stats().in_use_bytes, before.in_use_bytes);

  {
    const Tensor none = Tensor::empty(Shape{0, 3});  // no elements, still a valid block
    EXPECT_EQ(none.numel(), 0);
    EXPECT_EQ(pool.stats().in_use_bytes, before.in_use_bytes + MemoryPool::kMinBlockSize);
  }
  EXPECT_EQ(pool.stats().in_use_bytes, before.in_use_bytes);
}

}  // namespace
}  // namespace kestrel
