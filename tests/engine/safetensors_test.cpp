// safetensors: the writer against the reference implementation's own byte-exact test vectors,
// round trips of every dtype (bit-exact, random bytes), files written by hand here from the
// spec, one refusal per kind of corrupt file (with its message), mutated files that must never
// crash, and the atomic write (missing directory, overwrite, failure in mid-write, failed
// rename) leaving no temporary file and the old file intact.
#include "engine/checkpoint/safetensors.hpp"

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/resource.h>

#include <bit>
#include <cstring>
#include <filesystem>
#include <random>
#include <string>
#include <vector>

#include "tests/support/random.hpp"
#include "tests/support/scratch_dir.hpp"

namespace kestrel {
namespace {

using checkpoint::parse_safetensors;
using checkpoint::read_safetensors;
using checkpoint::SafetensorsFile;
using checkpoint::write_safetensors;
using NamedTensors = std::vector<std::pair<std::string, Tensor>>;

// ---- building files by hand, byte by byte, from the spec --------------------------------

std::string le(uint64_t bits, int bytes) {
  std::string out;
  for (int i = 0; i < bytes; ++i) out += static_cast<char>((bits >> (8 * i)) & 0xff);
  return out;
}
std::string le_f32(float v) { return le(std::bit_cast<uint32_t>(v), 4); }
std::string le_i64(int64_t v) { return le(static_cast<uint64_t>(v), 8); }

// 8-byte length, the header (padded with spaces to a multiple of 8 when `pad`), the buffer.
std::string safetensors_bytes(std::string header, const std::string& buffer, bool pad = true) {
  if (pad) header.append((8 - header.size() % 8) % 8, ' ');
  return le(header.size(), 8) + header + buffer;
}

// A host tensor of `shape` and `dtype` filled with random bytes (so NaN payloads, denormals and
// every bit pattern take part).
Tensor random_bytes_tensor(const Shape& shape, DType dtype, std::mt19937_64& gen) {
  Tensor t = Tensor::empty(shape, dtype);
  auto* p = static_cast<unsigned char*>(t.nbytes() > 0 ? t.raw_data() : nullptr);
  for (size_t i = 0; i < t.nbytes(); ++i) p[i] = static_cast<unsigned char>(gen());
  return t;
}

bool same_bytes(const Tensor& a, const Tensor& b) {
  if (a.nbytes() != b.nbytes()) return false;
  return a.nbytes() == 0 || std::memcmp(a.raw_data(), b.raw_data(), a.nbytes()) == 0;
}

// Runs `fn`, which must throw kestrel::Error whose message contains `expected`.
template <class Fn>
::testing::AssertionResult throws_error(Fn&& fn, const std::string& expected) {
  try {
    fn();
  } catch (const Error& e) {
    if (e.message().find(expected) != std::string::npos) return ::testing::AssertionSuccess();
    return ::testing::AssertionFailure()
           << "message \"" << e.message() << "\" lacks \"" << expected << "\"";
  }
  return ::testing::AssertionFailure() << "no kestrel::Error (expected \"" << expected << "\")";
}

// ---- the writer against the reference implementation ------------------------------------

// safetensors' own unit tests (tensor.rs: test_serialization, test_serialization_forced_
// alignement, test_empty) give these exact bytes for these inputs.
TEST(Safetensors, WriterMatchesReferenceBytes) {
  test::ScratchDir dir;
  const std::vector<float> values = {0.0f, 1.0f, 2.0f, 3.0f, 4.0f, 5.0f};
  std::string data;
  for (float v : values) data += le_f32(v);

  const std::string path = dir.file("a.safetensors");
  write_safetensors(path, {{"attn.0", Tensor::from_vector(Shape{1, 2, 3}, values)}}, {});
  EXPECT_EQ(
      test::read_file(path),
      le(64, 8) + R"({"attn.0":{"dtype":"F32","shape":[1,2,3],"data_offsets":[0,24]}})" + data);

  // A shorter name leaves the header 65 bytes: seven spaces align the data.
  write_safetensors(path, {{"attn0", Tensor::from_vector(Shape{1, 1, 2, 3}, values)}}, {});
  EXPECT_EQ(test::read_file(path),
            le(72, 8) + R"({"attn0":{"dtype":"F32","shape":[1,1,2,3],"data_offsets":[0,24]}})" +
                "       " + data);

  write_safetensors(path, {}, {});
  EXPECT_EQ(test::read_file(path), le(8, 8) + "{}      ");

  write_safetensors(path, {}, {{"framework", "pt"}});
  EXPECT_EQ(test::read_file(path), le(40, 8) + R"({"__metadata__":{"framework":"pt"}})" + "     ");
}

// The reference orders tensors by dtype alignment, largest first, then by name, so that each
// starts aligned to its element size; checked here by parsing the header independently.
TEST(Safetensors, WriterOrdersByAlignmentThenName) {
  test::ScratchDir dir;
  std::mt19937_64 gen(1);
  const std::string path = dir.file("order.safetensors");
  write_safetensors(path,
                    {{"u", random_bytes_tensor(Shape{3}, DType::U8, gen)},
                     {"b", random_bytes_tensor(Shape{1}, DType::F32, gen)},
                     {"h", random_bytes_tensor(Shape{3}, DType::BF16, gen)},
                     {"l", random_bytes_tensor(Shape{1}, DType::I64, gen)},
                     {"a", random_bytes_tensor(Shape{1}, DType::F32, gen)},
                     {"i", random_bytes_tensor(Shape{1}, DType::I32, gen)},
                     {"f", random_bytes_tensor(Shape{1}, DType::F16, gen)}},
                    {});
  const SafetensorsFile file = read_safetensors(path);
  std::vector<std::string> order;
  for (const auto& e : file.entries) order.push_back(e.name);
  EXPECT_EQ(order, (std::vector<std::string>{"l", "a", "b", "i", "h", "f", "u"}));

  const std::string bytes = test::read_file(path);
  uint64_t n = 0;
  std::memcpy(&n, bytes.data(), 8);
  EXPECT_EQ(n % 8, 0u);
  EXPECT_EQ(bytes.substr(8, 5), R"({"l":)");
  // Offsets in file order: 8 + 4 + 4 + 4 + 3*2 + 2 + 3 bytes.
  const std::vector<std::string> expected_offsets = {"[0,8]",   "[8,12]",  "[12,16]", "[16,20]",
                                                     "[20,26]", "[26,28]", "[28,31]"};
  size_t at = 0;
  for (const std::string& offsets : expected_offsets) {
    at = bytes.find(R"("data_offsets":)" + offsets, at);
    EXPECT_NE(at, std::string::npos) << offsets;
  }
}

// ---- round trips --------------------------------------------------------------------------

TEST(Safetensors, RoundTripIsBitExactForEveryDtype) {
  test::ScratchDir dir;
  std::mt19937_64 gen(test::test_seed());
  const NamedTensors tensors = {
      {"conv1.weight", random_bytes_tensor(Shape{6, 1, 5, 5}, DType::F32, gen)},
      {"conv1.bias", random_bytes_tensor(Shape{6}, DType::F32, gen)},
      {"labels", random_bytes_tensor(Shape{7}, DType::I32, gen)},
      {"counts", random_bytes_tensor(Shape{3, 2}, DType::I64, gen)},
      {"image", random_bytes_tensor(Shape{3, 5, 7}, DType::U8, gen)},
      {"half", random_bytes_tensor(Shape{9}, DType::F16, gen)},
      {"brain", random_bytes_tensor(Shape{2, 3, 1, 1, 1, 3}, DType::BF16, gen)},
      {"scalar", random_bytes_tensor(Shape{}, DType::F32, gen)},
      {"empty", random_bytes_tensor(Shape{0, 4}, DType::F32, gen)},
      {"empty_bytes", random_bytes_tensor(Shape{0}, DType::U8, gen)},
  };
  const std::map<std::string, std::string> metadata = {
      {"format", "pt"}, {"note", "caf\u00e9 \"quoted\"\n"}, {"empty", ""}};
  const std::string path = dir.file("round.safetensors");
  write_safetensors(path, tensors, metadata);

  const SafetensorsFile file = read_safetensors(path);
  EXPECT_EQ(file.metadata, metadata);
  ASSERT_EQ(file.entries.size(), tensors.size());
  for (const auto& [name, t] : tensors) {
    SCOPED_TRACE(name);
    const SafetensorsFile::Entry* e = file.find(name);
    ASSERT_NE(e, nullptr);
    EXPECT_EQ(e->dtype, t.dtype());
    EXPECT_EQ(e->shape, t.shape());
    EXPECT_EQ(e->tensor.shape(), t.shape());
    EXPECT_TRUE(e->tensor.device().is_cpu());
    EXPECT_TRUE(same_bytes(e->tensor, t));
  }
  EXPECT_EQ(file.find("missing"), nullptr);
}

TEST(Safetensors, ViewsWriteOnlyTheirOwnElements) {
  test::ScratchDir dir;
  std::mt19937_64 gen(7);
  const Tensor flat = random_bytes_tensor(Shape{100}, DType::F32, gen);
  const Tensor view = flat.sub(37, Shape{3, 4});
  const std::string path = dir.file("view.safetensors");
  write_safetensors(path, {{"w", view}}, {});
  const SafetensorsFile file = read_safetensors(path);
  ASSERT_EQ(file.entries.size(), 1u);
  EXPECT_EQ(file.entries[0].shape, (Shape{3, 4}));
  EXPECT_TRUE(same_bytes(file.entries[0].tensor, view));
}

// ---- files written by hand ---------------------------------------------------------------

TEST(Safetensors, ReadsHandWrittenFile) {
  test::ScratchDir dir;
  // Header keys in an order of its own (metadata last, the later tensor first), tensors of
  // different alignment laid out by hand.
  const std::string header = R"({"ids":{"dtype":"I64","shape":[3],"data_offsets":[16,40]},)"
                             R"("w":{"data_offsets":[0,16],"shape":[2,2],"dtype":"F32"},)"
                             R"("__metadata__":{"source":"by hand"}})";
  const std::string buffer = le_f32(1.5f) + le_f32(-2.0f) + le_f32(0.25f) + le_f32(3e-8f) +
                             le_i64(1) + le_i64(-2) + le_i64(int64_t{1} << 40);
  const std::string path = dir.file("hand.safetensors");
  test::write_file(path, safetensors_bytes(header, buffer));

  const SafetensorsFile file = read_safetensors(path);
  EXPECT_EQ(file.metadata, (std::map<std::string, std::string>{{"source", "by hand"}}));
  ASSERT_EQ(file.entries.size(), 2u);
  EXPECT_EQ(file.entries[0].name, "w");  // file order is data order
  EXPECT_EQ(file.entries[1].name, "ids");
  const Tensor& w = file.find("w")->tensor;
  EXPECT_EQ(w.dtype(), DType::F32);
  EXPECT_EQ(w.shape(), (Shape{2, 2}));
  EXPECT_EQ(w.to_vector(), (std::vector<float>{1.5f, -2.0f, 0.25f, 3e-8f}));
  const Tensor& ids = file.find("ids")->tensor;
  EXPECT_EQ(ids.dtype(), DType::I64);
  EXPECT_EQ(ids.shape(), (Shape{3}));
  EXPECT_EQ(ids.data<int64_t>()[0], 1);
  EXPECT_EQ(ids.data<int64_t>()[1], -2);
  EXPECT_EQ(ids.data<int64_t>()[2], int64_t{1} << 40);
}

TEST(Safetensors, ParsesTheSameFileFromMemory) {
  const std::string header = R"({"__metadata__":{"k":"v"},)"
                             R"("w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
                             R"("e":{"dtype":"U8","shape":[0,3],"data_offsets":[8,8]}})";
  const std::string bytes = safetensors_bytes(header, le_f32(1.5f) + le_f32(-2.0f));
  const SafetensorsFile file =
      parse_safetensors({reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size()}, "memory");
  EXPECT_EQ(file.metadata, (std::map<std::string, std::string>{{"k", "v"}}));
  ASSERT_EQ(file.entries.size(), 2u);
  EXPECT_EQ(file.find("w")->tensor.to_vector(), (std::vector<float>{1.5f, -2.0f}));
  EXPECT_EQ(file.find("e")->shape, (Shape{0, 3}));
  EXPECT_EQ(file.find("e")->tensor.numel(), 0);
}

TEST(Safetensors, ReadsUnpaddedPrettyHeaderAndZeroSizeTensors) {
  test::ScratchDir dir;
  // Unpadded, with newlines: still valid JSON, so still valid safetensors. Two zero-size
  // tensors share the offset where the next tensor starts, as the reference allows.
  const std::string header =
      "{\n  \"z1\": {\"dtype\": \"F32\", \"shape\": [0, 3], \"data_offsets\": [4, 4]},\n"
      "  \"s\": {\"dtype\": \"U8\", \"shape\": [], \"data_offsets\": [4, 5]},\n"
      "  \"z0\": {\"dtype\": \"I32\", \"shape\": [5, 0], \"data_offsets\": [4, 4]},\n"
      "  \"x\": {\"dtype\": \"I32\", \"shape\": [1], \"data_offsets\": [0, 4]}\n}";
  const std::string path = dir.file("pretty.safetensors");
  test::write_file(path, safetensors_bytes(header, le(0xdeadbeef, 4) + "\x7f", false));
  const SafetensorsFile file = read_safetensors(path);
  ASSERT_EQ(file.entries.size(), 4u);
  EXPECT_TRUE(file.metadata.empty());
  EXPECT_EQ(file.find("x")->tensor.data<int32_t>()[0], static_cast<int32_t>(0xdeadbeef));
  EXPECT_EQ(file.find("s")->shape, Shape{});
  EXPECT_EQ(file.find("s")->tensor.data<uint8_t>()[0], 0x7f);
  EXPECT_EQ(file.find("z0")->shape, (Shape{5, 0}));
  EXPECT_EQ(file.find("z1")->tensor.numel(), 0);
}

// ---- corrupt files -----------------------------------------------------------------------

struct CorruptCase {
  std::string name;
  std::string bytes;
  std::string expected;  // part of the message
};

void PrintTo(const CorruptCase& c, std::ostream* os) { *os << c.name; }

std::string tensor_json(const std::string& name, const std::string& dtype, const std::string& shape,
                        const std::string& offsets) {
  return "\"" + name + "\":{\"dtype\":\"" + dtype + "\",\"shape\":" + shape +
         ",\"data_offsets\":" + offsets + "}";
}

std::vector<CorruptCase> corrupt_cases() {
  const std::string a = tensor_json("a", "F32", "[2]", "[0,8]");
  const std::string b = tensor_json("b", "I32", "[2]", "[8,16]");
  const std::string valid = safetensors_bytes("{" + a + "," + b + "}", std::string(16, '\1'));
  std::string deep_array(100000, '[');
  deep_array += std::string(100000, ']');
  return {
      {"EmptyFile", "", "not a safetensors file (0 bytes, shorter than the 8-byte header"},
      {"ShorterThanLength", "\x01\x02\x03", "not a safetensors file (3 bytes"},
      {"HeaderLengthBeyondFile", le(1'000'000'000'000, 8) + std::string(4088, ' '),
       "header length 1,000,000,000,000 exceeds file size 4,096 (not a safetensors file"},
      {"PngFile", std::string("\x89PNG\r\n\x1a\n", 8) + std::string(100, '\0'),
       "header length 727,905,341,920,923,785 exceeds file size 108 (not a safetensors file"},
      {"TruncatedInHeader", valid.substr(0, 20), "exceeds file size 20"},
      {"TruncatedData", valid.substr(0, valid.size() - 4),
       "tensor b: data_offsets [8, 16] extend beyond the 12-byte data buffer (file truncated?)"},
      {"HeaderNotJson", safetensors_bytes("{not json", ""), "invalid JSON header: "},
      {"HeaderNotUtf8", safetensors_bytes("{\"\xff\":{}}", ""), "invalid JSON header: "},
      {"EmptyHeader", le(0, 8), "invalid JSON header: "},
      {"HeaderIsArray", safetensors_bytes("[1, 2]", ""),
       "the header is a JSON array, not an object"},
      {"DeeplyNestedHeader", safetensors_bytes(deep_array, ""), "the header is a JSON array"},
      {"TensorNotObject", safetensors_bytes(R"({"a":3})", ""), "tensor a: expected an object"},
      {"UnknownDtype",
       safetensors_bytes("{" + tensor_json("a", "F33", "[2]", "[0,8]") + "}", std::string(8, '\0')),
       "tensor a: unknown dtype \"F33\""},
      {"UnsupportedDtype",
       safetensors_bytes("{" + tensor_json("d", "U64", "[1]", "[0,8]") + "}", std::string(8, '\0')),
       "tensor d: dtype U64 is not supported"},
      {"DtypeNotString",
       safetensors_bytes(R"({"a":{"dtype":4,"shape":[1],"data_offsets":[0,4]}})",
                         std::string(4, '\0')),
       "tensor a: dtype must be a string, got 4"},
      {"ShapeOffsetMismatch",
       safetensors_bytes("{" + tensor_json("fc1.weight", "F32", "[120,256]", "[0,100]") + "}",
                         std::string(100, '\0')),
       "tensor fc1.weight: data_offsets [0, 100] do not match shape [120, 256] of F32 (122,880 "
       "bytes)"},
      {"Overlap",
       safetensors_bytes("{" + a + "," + tensor_json("b", "F32", "[2]", "[4,12]") + "}",
                         std::string(12, '\0')),
       "tensors a and b overlap (data_offsets [0, 8] and [4, 12])"},
      {"Hole",
       safetensors_bytes("{" + a + "," + tensor_json("b", "F32", "[2]", "[12,20]") + "}",
                         std::string(20, '\0')),
       "bytes [8, 12) of the data buffer belong to no tensor (a hole before tensor b)"},
      {"HoleAtStart",
       safetensors_bytes("{" + tensor_json("a", "F32", "[2]", "[4,12]") + "}",
                         std::string(12, '\0')),
       "bytes [0, 4) of the data buffer belong to no tensor"},
      {"TrailingBytes", valid + "xyzw",
       "the data buffer has 20 bytes but the tensors end at byte 16"},
      {"OffsetsBeyondBuffer",
       safetensors_bytes("{" + tensor_json("a", "F32", "[16]", "[0,64]") + "}",
                         std::string(16, '\0')),
       "tensor a: data_offsets [0, 64] extend beyond the 16-byte data buffer"},
      {"OffsetsReversed",
       safetensors_bytes("{" + tensor_json("a", "F32", "[2]", "[8,0]") + "}", std::string(8, '\0')),
       "tensor a: data_offsets [8, 0] end before they begin"},
      {"OffsetsNotAPair",
       safetensors_bytes("{" + tensor_json("a", "F32", "[2]", "[0]") + "}", std::string(8, '\0')),
       "tensor a: data_offsets must be [begin, end] with non-negative integers, got [0]"},
      {"NegativeOffset",
       safetensors_bytes("{" + tensor_json("a", "F32", "[2]", "[-8,0]") + "}",
                         std::string(8, '\0')),
       "data_offsets must be [begin, end] with non-negative integers, got [-8, 0]"},
      {"NegativeDim",
       safetensors_bytes("{" + tensor_json("a", "F32", "[2,-3]", "[0,8]") + "}",
                         std::string(8, '\0')),
       "tensor a: negative dimension -3 in shape [2, -3]"},
      {"FractionalDim",
       safetensors_bytes("{" + tensor_json("a", "F32", "[2.5]", "[0,8]") + "}",
                         std::string(8, '\0')),
       "tensor a: shape [2.5] must list non-negative integers"},
      {"NestedShape",
       safetensors_bytes("{" + tensor_json("a", "F32", deep_array, "[0,8]") + "}",
                         std::string(8, '\0')),
       "tensor a: shape [[[...]]] must list non-negative integers"},
      {"TooManyDims",
       safetensors_bytes("{" + tensor_json("a", "F32", "[1,1,1,1,1,1,1]", "[0,4]") + "}",
                         std::string(4, '\0')),
       "tensor a: shape [1, 1, 1, 1, 1, 1, 1] has 7 dimensions; kestrel holds at most 6"},
      {"ShapeOverflows",
       safetensors_bytes(
           "{" + tensor_json("a", "F32", "[4611686018427387904,4611686018427387904]", "[0,8]") +
               "}",
           std::string(8, '\0')),
       "do not match shape [4611686018427387904, 4611686018427387904] of F32 (too many bytes)"},
      // Zero bytes, but 2^62 x 2 elements before the 0: the file was accepted and
      // Shape::numel() overflowed int64_t (UBSan under fuzz_safetensors: signed overflow).
      // (std::string first: gcc 12 at -O3 reports a false -Wrestrict for "{" + string here.)
      {"EmptyShapeOverflows",
       safetensors_bytes(
           std::string("{") + tensor_json("a", "U8", "[4611686018427387904,2,0]", "[0,0]") + "}",
           ""),
       "tensor a: shape [4611686018427387904, 2, 0] is too large: its non-zero dimensions "
       "multiply to more than 2^63 - 1 elements"},
      {"DimBeyondUint64",
       safetensors_bytes("{" + tensor_json("a", "F32", "[18446744073709551616]", "[0,8]") + "}",
                         std::string(8, '\0')),
       "must list non-negative integers"},
      {"DuplicateName",
       safetensors_bytes("{" + a + "," + tensor_json("a", "F32", "[2]", "[8,16]") + "}",
                         std::string(16, '\0')),
       "the header has the key \"a\" more than once"},
      {"DuplicateField",
       safetensors_bytes(R"({"a":{"dtype":"F32","dtype":"I32","shape":[1],"data_offsets":[0,4]}})",
                         std::string(4, '\0')),
       "the header has the key \"dtype\" more than once"},
      {"MissingField", safetensors_bytes(R"({"a":{"dtype":"F32","shape":[1]}})", ""),
       "tensor a: missing \"data_offsets\""},
      {"UnknownField",
       safetensors_bytes(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4],"foo":1}})",
                         std::string(4, '\0')),
       "tensor a: unknown field \"foo\""},
      {"MetadataNotObject", safetensors_bytes(R"({"__metadata__":[1]})", ""),
       "__metadata__ must be an object, got a JSON array"},
      {"MetadataNotStrings", safetensors_bytes(R"({"__metadata__":{"epoch":3}})", ""),
       "__metadata__ maps strings to strings, but \"epoch\" is 3"},
      {"MetadataDuplicateKey", safetensors_bytes(R"({"__metadata__":{"k":"1","k":"2"}})", ""),
       "the header has the key \"k\" more than once"},
  };
}

class SafetensorsCorrupt : public ::testing::TestWithParam<CorruptCase> {};

TEST_P(SafetensorsCorrupt, IsRefusedWithItsMessage) {
  test::ScratchDir dir;
  const std::string path = dir.file("bad.safetensors");
  test::write_file(path, GetParam().bytes);
  try {
    read_safetensors(path);
    FAIL() << "expected kestrel::Error";
  } catch (const Error& e) {
    EXPECT_EQ(e.message().rfind(path + ": ", 0), 0u) << e.message();  // starts with the file
    EXPECT_NE(e.message().find(GetParam().expected), std::string::npos) << e.message();
  }
  // The same checks on the bytes in memory (the fuzzer's entry), named as given.
  const std::string& bytes = GetParam().bytes;
  try {
    parse_safetensors({reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size()}, "memory");
    FAIL() << "expected kestrel::Error from parse_safetensors";
  } catch (const Error& e) {
    EXPECT_EQ(e.message().rfind("memory: ", 0), 0u) << e.message();
    EXPECT_NE(e.message().find(GetParam().expected), std::string::npos) << e.message();
  }
}

INSTANTIATE_TEST_SUITE_P(Cases, SafetensorsCorrupt, ::testing::ValuesIn(corrupt_cases()),
                         [](const auto& test_info) { return test_info.param.name; });

TEST(Safetensors, HeaderBeyondTheReferenceLimitIsRefused) {
  test::ScratchDir dir;
  const std::string path = dir.file("huge.safetensors");
  test::write_file(path, le(150'000'000, 8));
  std::filesystem::resize_file(path, 200'000'000);  // sparse: no disk space taken
  EXPECT_TRUE(throws_error([&] { read_safetensors(path); },
                           path + ": header length 150,000,000 exceeds the safetensors limit of "
                                  "100,000,000 bytes"));
}

TEST(Safetensors, MissingFileAndDirectoryAreRefused) {
  test::ScratchDir dir;
  EXPECT_TRUE(
      throws_error([&] { read_safetensors(dir.file("nope.safetensors")); },
                   dir.file("nope.safetensors") + ": cannot open: No such file or directory"));
  EXPECT_TRUE(
      throws_error([&] { read_safetensors(dir.path()); }, dir.path() + ": not a regular file"));
}

// Random damage to a valid file (bytes flipped, cut short, garbage appended) must give either
// a file that still validates or a kestrel::Error: never a crash or another exception.
TEST(Safetensors, DamagedFilesNeverCrash) {
  test::ScratchDir dir;
  std::mt19937_64 gen(test::test_seed());
  const std::string source = dir.file("source.safetensors");
  write_safetensors(source,
                    {{"w", random_bytes_tensor(Shape{4, 3}, DType::F32, gen)},
                     {"ids", random_bytes_tensor(Shape{5}, DType::I64, gen)},
                     {"img", random_bytes_tensor(Shape{2, 3}, DType::U8, gen)}},
                    {{"epoch", "3"}, {"model", "lenet5"}});
  const std::string valid = test::read_file(source);
  uint64_t header_length = 0;
  std::memcpy(&header_length, valid.data(), 8);

  const std::string path = dir.file("damaged.safetensors");
  int refused = 0, accepted = 0;
  for (int trial = 0; trial < 400; ++trial) {
    std::string bytes = valid;
    switch (trial % 4) {
      case 0:  // flip bytes in the length and header, where the structure is
      case 1:
        for (int k = 0; k < 1 + trial % 3; ++k)
          bytes[gen() % (8 + header_length)] = static_cast<char>(gen());
        break;
      case 2:
        bytes.resize(gen() % bytes.size());
        break;
      default:
        for (int k = 0; k < 4; ++k) bytes += static_cast<char>(gen());
        bytes[gen() % bytes.size()] = static_cast<char>(gen());
    }
    test::write_file(path, bytes);
    try {
      read_safetensors(path);
      ++accepted;
    } catch (const Error& e) {
      ++refused;
      EXPECT_EQ(e.message().rfind(path + ": ", 0), 0u) << e.message();
    }
  }
  EXPECT_GT(refused, 250);
  EXPECT_EQ(refused + accepted, 400);
}

// ---- writing: argument checks and atomicity ----------------------------------------------

TEST(Safetensors, WriterRefusesBadNamesBeforeCreatingAnything) {
  test::ScratchDir dir;
  const std::string path = dir.file("x.safetensors");
  const Tensor t = Tensor::zeros(Shape{2});
  EXPECT_TRUE(throws_error(
      [&] {
        write_safetensors(path, {{"a", t}, {"a", t}}, {});
      },
      "cannot write " + path + ": tensor name a appears twice"));
  EXPECT_TRUE(throws_error(
      [&] {
        write_safetensors(path, {{"", t}}, {});
      },
      "a tensor has an empty name"));
  EXPECT_TRUE(throws_error(
      [&] {
        write_safetensors(path, {{"__metadata__", t}}, {});
      },
      "\"__metadata__\" is reserved for the metadata"));
  EXPECT_TRUE(throws_error(
      [&] {
        write_safetensors(path, {{"u", Tensor()}}, {});
      },
      "tensor u is undefined"));
  EXPECT_TRUE(throws_error(
      [&] {
        write_safetensors(path, {{"bad\xff", t}}, {});
      },
      "is not valid UTF-8"));
  EXPECT_TRUE(throws_error(
      [&] {
        write_safetensors(path, {}, {{"k", "v\xc3"}});
      },
      "is not valid UTF-8"));
  EXPECT_TRUE(dir.listing().empty());
}

TEST(Safetensors, MissingDirectoryFailsCleanly) {
  test::ScratchDir dir;
  const std::string path = dir.file("no/such/dir/model.safetensors");
  EXPECT_TRUE(throws_error(
      [&] {
        write_safetensors(path, {{"a", Tensor::zeros(Shape{3})}}, {});
      },
      "cannot write " + path + ": cannot create " + path + ".tmp."));
  EXPECT_TRUE(throws_error([&] { write_safetensors(path, {}, {}); }, "No such file or directory"));
  EXPECT_TRUE(dir.listing().empty());
}

TEST(Safetensors, OverwriteReplacesTheWholeFile) {
  test::ScratchDir dir;
  std::mt19937_64 gen(3);
  const std::string path = dir.file("ckpt.safetensors");
  write_safetensors(path,
                    {{"big", random_bytes_tensor(Shape{1000}, DType::F32, gen)},
                     {"other", random_bytes_tensor(Shape{10}, DType::I32, gen)}},
                    {{"version", "old"}});
  const Tensor small = random_bytes_tensor(Shape{3}, DType::F32, gen);
  write_safetensors(path, {{"small", small}}, {{"version", "new"}});

  const SafetensorsFile file = read_safetensors(path);
  ASSERT_EQ(file.entries.size(), 1u);
  EXPECT_EQ(file.entries[0].name, "small");
  EXPECT_TRUE(same_bytes(file.entries[0].tensor, small));
  EXPECT_EQ(file.metadata.at("version"), "new");
  // Nothing of the larger old file is left after the new one's end.
  const std::string header =
      R"({"__metadata__":{"version":"new"},"small":{"dtype":"F32","shape":[3],"data_offsets":[0,12]}})";
  EXPECT_EQ(std::filesystem::file_size(path), 8 + header.size() + (8 - header.size() % 8) % 8 + 12);
  EXPECT_EQ(dir.listing(), std::vector<std::string>{"ckpt.safetensors"});
}

// A write that fails after some bytes went out (the file-size limit stands in for a full disk)
// leaves the previous checkpoint byte for byte and no temporary file.
TEST(Safetensors, FailureInMidWriteKeepsTheOldFile) {
  test::ScratchDir dir;
  std::mt19937_64 gen(4);
  const std::string path = dir.file("ckpt.safetensors");
  write_safetensors(path, {{"w", random_bytes_tensor(Shape{100}, DType::F32, gen)}}, {});
  const std::string before = test::read_file(path);

  const Tensor large = random_bytes_tensor(Shape{1 << 18}, DType::F32, gen);  // 1 MiB
  rlimit saved{};
  ASSERT_EQ(::getrlimit(RLIMIT_FSIZE, &saved), 0);
  const auto old_handler = ::signal(SIGXFSZ, SIG_IGN);  // EFBIG instead of a signal
  rlimit limited = saved;
  limited.rlim_cur = 64 * 1024;
  ASSERT_EQ(::setrlimit(RLIMIT_FSIZE, &limited), 0);
  std::string message;
  try {
    write_safetensors(path, {{"w", large}}, {});
  } catch (const Error& e) {
    message = e.message();
  }
  ::setrlimit(RLIMIT_FSIZE, &saved);
  ::signal(SIGXFSZ, old_handler);

  EXPECT_NE(message.find("cannot write " + path + ".tmp."), std::string::npos) << message;
  EXPECT_NE(message.find("File too large"), std::string::npos) << message;
  EXPECT_EQ(test::read_file(path), before);
  EXPECT_EQ(dir.listing(), std::vector<std::string>{"ckpt.safetensors"});
}

// The last step can fail too: a rename onto a directory. The temporary file goes, the directory
// stays.
TEST(Safetensors, FailedRenameRemovesTheTemporaryFile) {
  test::ScratchDir dir;
  const std::string path = dir.file("taken");
  std::filesystem::create_directory(path);
  test::write_file(path + "/inside", "keep");
  EXPECT_TRUE(throws_error(
      [&] {
        write_safetensors(path, {{"a", Tensor::zeros(Shape{4})}}, {});
      },
      "cannot write " + path + ": rename from " + path + ".tmp."));
  EXPECT_EQ(dir.listing(), std::vector<std::string>{"taken"});
  EXPECT_EQ(test::read_file(path + "/inside"), "keep");
}

TEST(Safetensors, WritesIntoTheCurrentDirectoryByRelativePath) {
  test::ScratchDir dir;
  const auto cwd = std::filesystem::current_path();
  std::filesystem::current_path(dir.path());
  std::string error;
  try {
    write_safetensors("relative.safetensors", {{"a", Tensor::zeros(Shape{2})}}, {});
  } catch (const Error& e) {
    error = e.message();
  }
  std::filesystem::current_path(cwd);
  EXPECT_EQ(error, "");
  EXPECT_EQ(read_safetensors(dir.file("relative.safetensors")).entries.size(), 1u);
}

}  // namespace
}  // namespace kestrel
