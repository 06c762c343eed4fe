// safetensors reader/writer: C++ round trips, a table of hand-corrupted files, and
// cross-checks against an independent Python writer/reader (json + struct + numpy only).
#include <gtest/gtest.h>
#include <stdlib.h>

#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "common/error.hpp"
#include "common/files.hpp"
#include "support/python.hpp"
#include "support/temp_dir.hpp"
#include "trial/safetensors.hpp"

namespace locsweep {
namespace {
using test_support::kPython;
using test_support::python_can_import;
using test_support::run_python;
using test_support::TempDir;
namespace fs = std::filesystem;
using nlohmann::json;

void write_raw(const fs::path& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

template <typename T>
std::vector<std::byte> bytes_of(const std::vector<T>& values) {
  std::vector<std::byte> out(values.size() * sizeof(T));
  if (!out.empty()) std::memcpy(out.data(), values.data(), out.size());
  return out;
}

// One tensor of the round-trip set: its bytes and the values a reader must decode from them.
struct Sample {
  std::string name;
  DType dtype;
  std::vector<int64_t> shape;
  std::vector<std::byte> bytes;
  json values;  // flat, C order
};

// Several dtypes and shapes, including a scalar and zero-size tensors, in a non-sorted order.
std::vector<Sample> samples() {
  std::vector<Sample> s;
  s.push_back({"w.f32",
               DType::f32,
               {2, 3},
               bytes_of<float>({1.5f, -2.25f, 3.0e-8f, 0.1f, -0.0f, 6.5e30f}),
               json::array({1.5f, -2.25f, 3.0e-8f, 0.1f, -0.0f, 6.5e30f})});
  // F16 bit patterns of 0.5, -1.25, 3.0, 65504.
  s.push_back({"a.f16",
               DType::f16,
               {4},
               bytes_of<uint16_t>({0x3800, 0xBD00, 0x4200, 0x7BFF}),
               json::array({0.5, -1.25, 3.0, 65504.0})});
  // BF16 bit patterns of 1.0, -3.0, 3.140625, 0.0.
  s.push_back({"m.bf16",
               DType::bf16,
               {2, 2},
               bytes_of<uint16_t>({0x3F80, 0xC040, 0x4049, 0x0000}),
               json::array({1.0, -3.0, 3.140625, 0.0})});
  s.push_back({"f64",
               DType::f64,
               {3},
               bytes_of<double>({1.0 / 3.0, -1e300, 2.0}),
               json::array({1.0 / 3.0, -1e300, 2.0})});
  s.push_back({"scalar.i64",
               DType::i64,
               {},
               bytes_of<int64_t>({-(int64_t{1} << 40) + 3}),
               json::array({-(int64_t{1} << 40) + 3})});
  s.push_back({"empty.i32", DType::i32, {2, 0, 3}, {}, json::array()});
  s.push_back(
      {"i32", DType::i32, {2}, bytes_of<int32_t>({-7, 2147483647}), json::array({-7, 2147483647})});
  s.push_back({"i16",
               DType::i16,
               {5},
               bytes_of<int16_t>({-32768, -1, 0, 1, 32767}),
               json::array({-32768, -1, 0, 1, 32767})});
  s.push_back(
      {"i8", DType::i8, {3}, bytes_of<int8_t>({-128, 5, 127}), json::array({-128, 5, 127})});
  s.push_back(
      {"u8", DType::u8, {1, 1, 3}, bytes_of<uint8_t>({0, 128, 255}), json::array({0, 128, 255})});
  s.push_back({"mask",
               DType::boolean,
               {4},
               bytes_of<uint8_t>({1, 0, 0, 1}),
               json::array({true, false, false, true})});
  s.push_back({"empty.f32", DType::f32, {0}, {}, json::array()});
  return s;
}

std::vector<TensorToWrite> to_write(const std::vector<Sample>& s) {
  std::vector<TensorToWrite> out;
  for (const auto& t : s) out.push_back({t.name, t.dtype, t.shape, t.bytes});
  return out;
}

std::string message_of_open(const fs::path& path) {
  try {
    SafetensorsFile::open(path);
  } catch (const InputError& e) {
    return e.what();
  }
  return "(no InputError)";
}

TEST(SafetensorsDType, NamesAndSizes) {
  const std::vector<std::tuple<DType, std::string_view, size_t>> table = {
      {DType::f32, "F32", 4},     {DType::f16, "F16", 2}, {DType::bf16, "BF16", 2},
      {DType::f64, "F64", 8},     {DType::i64, "I64", 8}, {DType::i32, "I32", 4},
      {DType::i16, "I16", 2},     {DType::i8, "I8", 1},   {DType::u8, "U8", 1},
      {DType::boolean, "BOOL", 1}};
  for (const auto& [dtype, name, size] : table) {
    EXPECT_EQ(to_string(dtype), name);
    EXPECT_EQ(dtype_size(dtype), size) << name;
  }
}

TEST(SafetensorsRoundTrip, SeveralDtypesShapesScalarsAndZeroSize) {
  TempDir dir;
  const auto path = dir / "t.safetensors";
  const auto s = samples();
  write_safetensors(path, to_write(s));

  const auto file = SafetensorsFile::open(path);
  EXPECT_EQ(file.path(), path);
  EXPECT_TRUE(file.metadata().empty());
  ASSERT_EQ(file.tensors().size(), s.size());
  size_t offset = 0;
  for (size_t i = 0; i < s.size(); ++i) {
    const TensorInfo& t = file.tensors()[i];
    SCOPED_TRACE(s[i].name);
    EXPECT_EQ(t.name, s[i].name);  // file order is the order given to the writer
    EXPECT_EQ(t.dtype, s[i].dtype);
    EXPECT_EQ(t.shape, s[i].shape);
    EXPECT_EQ(t.offset, offset);
    EXPECT_EQ(t.nbytes, s[i].bytes.size());
    const auto data = file.data(t);
    EXPECT_TRUE(std::equal(data.begin(), data.end(), s[i].bytes.begin(), s[i].bytes.end()));
    EXPECT_EQ(file.find(s[i].name), &t);
    offset += t.nbytes;
  }
  EXPECT_EQ(file.find("absent"), nullptr);
  EXPECT_EQ(file.find("w.f3"), nullptr);

  // The layout Hugging Face writes: compact JSON padded with spaces to a multiple of 8 bytes.
  const std::string raw = read_file(path);
  uint64_t n = 0;
  std::memcpy(&n, raw.data(), 8);  // little-endian host
  EXPECT_EQ(n % 8, 0u);
  EXPECT_EQ(raw.size(), 8 + n + offset);
  const std::string header = raw.substr(8, n);
  const size_t last = header.find_last_not_of(' ');
  EXPECT_EQ(header[last], '}');
  EXPECT_LT(n - (last + 1), 8u);
  EXPECT_EQ(header.find('\n'), std::string::npos);
  EXPECT_EQ(header.find("__metadata__"), std::string::npos);  // omitted when empty
}

TEST(SafetensorsRoundTrip, EmptyFile) {
  TempDir dir;
  write_safetensors(dir / "e.safetensors", {});
  const auto file = SafetensorsFile::open(dir / "e.safetensors");
  EXPECT_TRUE(file.tensors().empty());
  EXPECT_EQ(read_file(dir / "e.safetensors"), std::string("\x08\0\0\0\0\0\0\0{}      ", 16));
}

TEST(SafetensorsRoundTrip, Metadata) {
  TempDir dir;
  const std::map<std::string, std::string> metadata = {
      {"format", "pt"}, {"trial", "{\"beta\": 5}"}, {"note", "λ quintic \"quoted\"\n"}, {"", ""}};
  const std::vector<float> w = {1, 2};
  write_safetensors(dir / "m.safetensors", {{"w", DType::f32, {2}, std::as_bytes(std::span(w))}},
                    metadata);
  const auto file = SafetensorsFile::open(dir / "m.safetensors");
  EXPECT_EQ(file.metadata(), metadata);
  ASSERT_EQ(file.tensors().size(), 1u);
  EXPECT_EQ(file.tensors()[0].name, "w");
}

TEST(SafetensorsFile, MoveKeepsTheMappingAlive) {
  TempDir dir;
  const auto s = samples();
  write_safetensors(dir / "t.safetensors", to_write(s));
  auto first = SafetensorsFile::open(dir / "t.safetensors");
  SafetensorsFile moved = std::move(first);
  auto other = SafetensorsFile::open(dir / "t.safetensors");
  other = std::move(moved);
  const auto data = other.data(*other.find("w.f32"));
  EXPECT_TRUE(std::equal(data.begin(), data.end(), s[0].bytes.begin(), s[0].bytes.end()));
  TensorInfo outside = *other.find("w.f32");
  outside.offset = 1000;
  EXPECT_THROW(other.data(outside), Error);
}

TEST(SafetensorsFile, ReplacingAFileLeavesOpenReadersOnTheOldBytes) {
  TempDir dir;
  const auto path = dir / "r.safetensors";
  const std::vector<int32_t> a = {1, 2, 3}, b = {7, 8};
  write_safetensors(path, {{"x", DType::i32, {3}, std::as_bytes(std::span(a))}});
  const auto old_file = SafetensorsFile::open(path);
  write_safetensors(path, {{"x", DType::i32, {2}, std::as_bytes(std::span(b))}});
  const auto new_file = SafetensorsFile::open(path);
  EXPECT_EQ(old_file.find("x")->shape, std::vector<int64_t>{3});
  EXPECT_EQ(std::to_integer<int>(old_file.data(*old_file.find("x"))[8]), 3);
  EXPECT_EQ(new_file.find("x")->shape, std::vector<int64_t>{2});
  EXPECT_EQ(std::to_integer<int>(new_file.data(*new_file.find("x"))[4]), 8);
  EXPECT_EQ(std::distance(fs::directory_iterator(dir.path()), fs::directory_iterator()), 1);
}

TEST(SafetensorsFile, MissingFileIsAnInputErrorNamingIt) {
  TempDir dir;
  EXPECT_NE(message_of_open(dir / "nope.safetensors").find("nope.safetensors"), std::string::npos);
}

// --- writer rejections -------------------------------------------------------------------

struct BadWrite {
  const char* name;
  std::vector<TensorToWrite> tensors;
  const char* problem;
};

TEST(SafetensorsWrite, RejectsBadInputAndLeavesNoFile) {
  static const std::vector<float> four = {1, 2, 3, 4};
  const auto b = std::as_bytes(std::span(four));
  const std::vector<BadWrite> table = {
      {"too few bytes", {{"w", DType::f32, {5}, b}}, "need 20"},
      {"too many bytes", {{"w", DType::f16, {4}, b}}, "need 8"},
      {"scalar with 4 elements", {{"w", DType::f32, {}, b}}, "need 4"},
      {"negative dim", {{"w", DType::f32, {-2, -2}, b}}, "negative dimension"},
      {"duplicate", {{"w", DType::f32, {4}, b}, {"w", DType::f32, {2, 2}, b}}, "duplicate"},
      {"reserved name", {{"__metadata__", DType::f32, {4}, b}}, "reserved"},
      {"overflowing shape", {{"w", DType::f32, {int64_t{1} << 62, 8}, b}}, "overflow"},
  };
  TempDir dir;
  for (const auto& c : table) {
    SCOPED_TRACE(c.name);
    try {
      write_safetensors(dir / "bad.safetensors", c.tensors);
      ADD_FAILURE() << "no InputError";
    } catch (const InputError& e) {
      EXPECT_NE(std::string(e.what()).find(c.problem), std::string::npos) << e.what();
      EXPECT_NE(std::string(e.what()).find("bad.safetensors"), std::string::npos) << e.what();
    }
    EXPECT_TRUE(fs::is_empty(dir.path()));  // neither the file nor a temporary
  }
}

// --- hand-corrupted files -----------------------------------------------------------------

// 8-byte little-endian length `n`, then `rest`.
std::string with_length(uint64_t n, const std::string& rest) {
  std::string out(8, '\0');
  for (int i = 0; i < 8; ++i) out[i] = static_cast<char>((n >> (8 * i)) & 0xff);
  return out + rest;
}
// A file with `header` (correct length) and a zero buffer of `buffer_bytes`.
std::string file_of(const std::string& header, size_t buffer_bytes) {
  return with_length(header.size(), header + std::string(buffer_bytes, '\0'));
}
// Header with one F32 tensor "a" whose fields are given verbatim.
std::string one(const std::string& fields) {
  return "{\"a\":{" + fields + "}}";
}
const std::string kGood = R"("dtype":"F32","shape":[2],"data_offsets":[0,8])";

struct Corrupt {
  const char* name;
  std::string bytes;
  const char* problem;  // the message must contain this
  const char* tensor;   // and name this tensor, when not null
};

std::ostream& operator<<(std::ostream& os, const Corrupt& c) {
  return os << c.name;
}

class SafetensorsCorrupt : public ::testing::TestWithParam<Corrupt> {};

TEST_P(SafetensorsCorrupt, IsRejectedWithAMessageNamingTheProblem) {
  TempDir dir;
  const auto path = dir / "bad.safetensors";
  write_raw(path, GetParam().bytes);
  const std::string message = message_of_open(path);
  EXPECT_NE(message.find(GetParam().problem), std::string::npos) << message;
  EXPECT_NE(message.find(path.string()), std::string::npos) << message;
  if (GetParam().tensor != nullptr) {
    EXPECT_NE(message.find("tensor '" + std::string(GetParam().tensor) + "'"), std::string::npos)
        << message;
  }
}

// The starting point every corrupt case breaks in one way really is valid.
TEST(SafetensorsCorruptBaseline, TheUncorruptedFileOpens) {
  TempDir dir;
  write_raw(dir / "ok.safetensors", file_of(one(kGood), 8));
  const auto file = SafetensorsFile::open(dir / "ok.safetensors");
  ASSERT_EQ(file.tensors().size(), 1u);
  EXPECT_EQ(file.tensors()[0].nbytes, 8u);
  write_raw(
      dir / "two.safetensors",
      file_of(R"({"__metadata__":{"k":"v"},"b":{"dtype":"I8","shape":[4],"data_offsets":[8,12]},)"
              R"("z":{"dtype":"U8","shape":[0],"data_offsets":[0,0]},"a":{)" +
                  kGood + "}}   ",
              12));
  const auto two = SafetensorsFile::open(dir / "two.safetensors");
  ASSERT_EQ(two.tensors().size(), 3u);  // sorted by offset, not header order
  EXPECT_EQ(two.tensors()[0].name, "z");
  EXPECT_EQ(two.tensors()[1].name, "a");
  EXPECT_EQ(two.tensors()[2].name, "b");
  EXPECT_EQ(two.metadata().at("k"), "v");
}

const std::string kB = R"("b":{"dtype":"F32","shape":[2],"data_offsets":)";

INSTANTIATE_TEST_SUITE_P(
    Safetensors, SafetensorsCorrupt,
    ::testing::Values(
        Corrupt{"EmptyFile", "", "shorter than the 8-byte", nullptr},
        Corrupt{"SevenBytes", std::string(7, '\0'), "7 bytes long", nullptr},
        Corrupt{"HeaderLongerThanFile", with_length(100, "{}"), "larger than the 2 bytes", nullptr},
        Corrupt{"HeaderLengthAbsurd", with_length(uint64_t{1} << 40, "{}"), "absurd", nullptr},
        Corrupt{"HeaderLengthJustOverLimit", with_length(100'000'001, "{}"), "absurd", nullptr},
        Corrupt{"HeaderLengthAllOnes", with_length(~uint64_t{0}, "{}"), "absurd", nullptr},
        Corrupt{"EmptyHeader", with_length(0, ""), "not valid JSON", nullptr},
        Corrupt{"TruncatedJson", file_of(R"({"a":{"dtype":)", 0), "not valid JSON", nullptr},
        Corrupt{"InvalidUtf8", file_of("{\"\xff\":1}", 0), "not valid JSON", nullptr},
        Corrupt{"HeaderIsArray", file_of("[1,2]", 0), "not a JSON object", nullptr},
        Corrupt{"HeaderIsNull", file_of("null", 0), "not a JSON object", nullptr},
        Corrupt{"LeadingWhitespace", file_of(" " + one(kGood), 8), "must begin with '{'", nullptr},
        Corrupt{"EntryNotObject", file_of(R"({"a":3})", 0), "expected an object", "a"},
        Corrupt{"MissingDtype", file_of(one(R"("shape":[2],"data_offsets":[0,8])"), 8),
                "missing key 'dtype'", "a"},
        Corrupt{"MissingOffsets", file_of(one(R"("dtype":"F32","shape":[2])"), 8),
                "missing key 'data_offsets'", "a"},
        Corrupt{"UnknownKey", file_of(one(kGood + R"(,"offsets":[0,8])"), 8),
                "unknown key 'offsets'", "a"},
        Corrupt{"UnknownDtype",
                file_of(one(R"("dtype":"F8_E4M3","shape":[8],"data_offsets":[0,8])"), 8),
                "unknown dtype 'F8_E4M3'", "a"},
        Corrupt{"LowercaseDtype",
                file_of(one(R"("dtype":"f32","shape":[2],"data_offsets":[0,8])"), 8),
                "unknown dtype 'f32'", "a"},
        Corrupt{"DtypeNotString", file_of(one(R"("dtype":4,"shape":[2],"data_offsets":[0,8])"), 8),
                "dtype must be a string", "a"},
        Corrupt{"NegativeDim",
                file_of(one(R"("dtype":"F32","shape":[-2],"data_offsets":[0,8])"), 8),
                "negative dimension -2", "a"},
        Corrupt{"FractionalDim",
                file_of(one(R"("dtype":"F32","shape":[2.5],"data_offsets":[0,8])"), 8),
                "not a non-negative integer", "a"},
        Corrupt{"ShapeNotArray", file_of(one(R"("dtype":"F32","shape":2,"data_offsets":[0,8])"), 8),
                "shape must be an array", "a"},
        Corrupt{
            "ShapeOverflows",
            file_of(one(R"("dtype":"F32","shape":[4611686018427387904,4],"data_offsets":[0,8])"),
                    8),
            "overflows", "a"},
        Corrupt{"OffsetsThreeNumbers",
                file_of(one(R"("dtype":"F32","shape":[2],"data_offsets":[0,4,8])"), 8),
                "must be [begin, end]", "a"},
        Corrupt{"OffsetsNegative",
                file_of(one(R"("dtype":"F32","shape":[2],"data_offsets":[-1,7])"), 8),
                "must be [begin, end]", "a"},
        Corrupt{"OffsetsReversed",
                file_of(one(R"("dtype":"F32","shape":[2],"data_offsets":[8,0])"), 8),
                "out of order", "a"},
        Corrupt{"OffsetsPastBuffer", file_of(one(kGood), 4), "past the end of the 4-byte", "a"},
        Corrupt{"SizeMismatch",
                file_of(one(R"("dtype":"F32","shape":[3],"data_offsets":[0,8])"), 8), "need 12",
                "a"},
        Corrupt{"SizeMismatchScalar",
                file_of(one(R"("dtype":"F64","shape":[],"data_offsets":[0,4])"), 4), "need 8", "a"},
        Corrupt{"Overlap", file_of("{\"a\":{" + kGood + "}," + kB + "[4,12]}}", 12), "overlap",
                "b"},
        Corrupt{"Gap", file_of("{\"a\":{" + kGood + "}," + kB + "[12,20]}}", 20), "gap of 4 bytes",
                "b"},
        Corrupt{"BufferDoesNotStartAtZero",
                file_of(one(R"("dtype":"F32","shape":[2],"data_offsets":[4,12])"), 12),
                "gap of 4 bytes", "a"},
        Corrupt{"TrailingBytes", file_of(one(kGood), 12), "4 trailing bytes", nullptr},
        Corrupt{"TrailingBytesNoTensors", file_of("{}", 1), "1 trailing bytes", nullptr},
        Corrupt{"DuplicateTensor",
                file_of("{\"a\":{" + kGood +
                            R"(},"a":{"dtype":"F32","shape":[2],"data_offsets":[8,16]}})",
                        16),
                "more than once", "a"},
        Corrupt{"DuplicateKeyInEntry", file_of(one(R"("dtype":"F32",)" + kGood), 8),
                "duplicate key 'dtype'", nullptr},
        Corrupt{"MetadataNotObject", file_of(R"({"__metadata__":"pt"})", 0),
                "__metadata__ must be an object", nullptr},
        Corrupt{"MetadataNonString", file_of(R"({"__metadata__":{"format":1}})", 0),
                "'format' is not a string", nullptr}),
    [](const ::testing::TestParamInfo<Corrupt>& info) { return std::string(info.param.name); });

// --- cross-checks against an independent Python implementation -----------------------------

// Writes a small GPT-2 checkpoint in the layout of Hugging Face's gpt2 model.safetensors:
// unprefixed names, Conv1D weights as [in, out] (c_attn [C, 3C]), the causal-mask buffer
// h.N.attn.bias [1, 1, T, T] and the scalar h.N.attn.masked_bias, all F32, ordered by name
// (HF sorts by dtype, then name), "__metadata__": {"format": "pt"}, header padded with spaces.
// Also dumps every value (float32 widened to float64: exact in JSON) for the C++ side.
constexpr const char* kPythonGpt2Writer = R"PY(
import json, struct, sys
import numpy as np
out, expected_path = sys.argv[1], sys.argv[2]
rng = np.random.default_rng(1234)
C, T, V, L = 8, 16, 50, 2
shapes = {"wte.weight": (V, C), "wpe.weight": (T, C), "ln_f.weight": (C,), "ln_f.bias": (C,)}
for l in range(L):
    p = "h.%d." % l
    shapes.update({p + "ln_1.weight": (C,), p + "ln_1.bias": (C,),
                   p + "attn.bias": (1, 1, T, T), p + "attn.masked_bias": (),
                   p + "attn.c_attn.weight": (C, 3 * C), p + "attn.c_attn.bias": (3 * C,),
                   p + "attn.c_proj.weight": (C, C), p + "attn.c_proj.bias": (C,),
                   p + "ln_2.weight": (C,), p + "ln_2.bias": (C,),
                   p + "mlp.c_fc.weight": (C, 4 * C), p + "mlp.c_fc.bias": (4 * C,),
                   p + "mlp.c_proj.weight": (4 * C, C), p + "mlp.c_proj.bias": (C,)})
arrays = {}
for name, shape in shapes.items():
    if name.split(".")[2:] == ["attn", "bias"]:
        a = np.tril(np.ones(shape, dtype=np.float32))
    elif name.split(".")[2:] == ["attn", "masked_bias"]:
        a = np.array(-1e4, dtype=np.float32)
    else:
        a = (rng.standard_normal(shape) * 0.02).astype(np.float32)
    arrays[name] = a
header = {"__metadata__": {"format": "pt"}}
blobs, offset = [], 0
for name in sorted(arrays):
    b = arrays[name].astype("<f4").tobytes()
    header[name] = {"dtype": "F32", "shape": list(arrays[name].shape),
                    "data_offsets": [offset, offset + len(b)]}
    blobs.append(b)
    offset += len(b)
text = json.dumps(header, separators=(",", ":")).encode("utf-8")
text += b" " * ((8 - len(text) % 8) % 8)
with open(out, "wb") as f:
    f.write(struct.pack("<Q", len(text)))
    f.write(text)
    f.write(b"".join(blobs))
with open(expected_path, "w") as f:
    json.dump({n: {"shape": list(a.shape), "values": [float(x) for x in a.reshape(-1)]}
               for n, a in arrays.items()}, f)
)PY";

// Parses a safetensors file with json/struct/numpy.frombuffer, checks the layout the format
// requires, and prints {metadata, order, header_len, tensors: {name: {dtype, shape, values}}}.
constexpr const char* kPythonReader = R"PY(
import json, struct, sys
import numpy as np
data = open(sys.argv[1], "rb").read()
(n,) = struct.unpack("<Q", data[:8])
raw = data[8:8 + n]
header = json.loads(raw.decode("utf-8"))
buf = data[8 + n:]
types = {"F32": "<f4", "F16": "<f2", "F64": "<f8", "I64": "<i8", "I32": "<i4", "I16": "<i2",
         "I8": "i1", "U8": "u1", "BOOL": "?", "BF16": "<u2"}
tensors = {}
spans = []
for name, info in header.items():
    if name == "__metadata__":
        continue
    b, e = info["data_offsets"]
    a = np.frombuffer(buf[b:e], dtype=types[info["dtype"]]).reshape(info["shape"])
    if info["dtype"] == "BF16":
        a = (a.astype("<u4") << 16).view("<f4")
    spans.append((b, e, name))
    tensors[name] = {"dtype": info["dtype"], "shape": list(a.shape),
                     "values": a.reshape(-1).tolist()}
spans.sort()
end = 0
for b, e, name in spans:
    assert b == end, "tensor %s does not start where the previous one ends" % name
    end = e
assert end == len(buf), "buffer has bytes not covered by tensors"
print(json.dumps({"metadata": header.get("__metadata__", {}), "order": [s[2] for s in spans],
                  "header_len": n, "tensors": tensors}))
)PY";

TEST(SafetensorsPython, ReadsAGpt2LayoutWrittenByAnIndependentWriter) {
  if (!python_can_import("numpy")) GTEST_SKIP() << kPython << " with numpy is not available";
  TempDir dir;
  std::ofstream(dir / "writer.py") << kPythonGpt2Writer;
  const auto path = dir / "model.safetensors";
  const auto r =
      run_python({(dir / "writer.py").string(), path.string(), (dir / "expected.json").string()});
  ASSERT_TRUE(r.ok()) << r.out << r.err;
  const json expected = json::parse(read_file(dir / "expected.json"));

  const auto file = SafetensorsFile::open(path);
  EXPECT_EQ(file.metadata(), (std::map<std::string, std::string>{{"format", "pt"}}));
  ASSERT_EQ(file.tensors().size(), expected.size());
  ASSERT_EQ(file.tensors().size(), 4u + 2u * 14u);
  for (size_t i = 1; i < file.tensors().size(); ++i)  // HF order: by name within one dtype
    EXPECT_LT(file.tensors()[i - 1].name, file.tensors()[i].name);

  const TensorInfo* c_attn = file.find("h.0.attn.c_attn.weight");
  ASSERT_NE(c_attn, nullptr);
  EXPECT_EQ(c_attn->shape, (std::vector<int64_t>{8, 24}));
  EXPECT_EQ(file.find("h.0.attn.c_attn.bias")->shape, (std::vector<int64_t>{24}));
  EXPECT_EQ(file.find("h.1.attn.bias")->shape, (std::vector<int64_t>{1, 1, 16, 16}));
  EXPECT_TRUE(file.find("h.1.attn.masked_bias")->shape.empty());
  EXPECT_EQ(file.find("wte.weight")->shape, (std::vector<int64_t>{50, 8}));

  size_t compared = 0;
  for (const auto& [name, e] : expected.items()) {
    SCOPED_TRACE(name);
    const TensorInfo* t = file.find(name);
    ASSERT_NE(t, nullptr);
    EXPECT_EQ(t->dtype, DType::f32);
    EXPECT_EQ(t->shape, e["shape"].get<std::vector<int64_t>>());
    const auto values = e["values"].get<std::vector<double>>();
    const auto bytes = file.data(*t);
    ASSERT_EQ(bytes.size(), values.size() * sizeof(float));
    for (size_t k = 0; k < values.size(); ++k) {
      float v;
      std::memcpy(&v, bytes.data() + k * sizeof(float), sizeof v);
      ASSERT_EQ(static_cast<double>(v), values[k]) << "element " << k;
      ++compared;
    }
  }
  EXPECT_EQ(compared, 50u * 8 + 16 * 8 + 2 * 8 +
                          2 * (4 * 8 + 256 + 1 + 8 * 24 + 24 + 64 + 8 + 8 * 32 + 32 + 32 * 8 + 8));
  // A lower-triangular mask: row 2 is 1, 1, 1, 0, ...
  float m[4];
  std::memcpy(m, file.data(*file.find("h.0.attn.bias")).data() + 2 * 16 * sizeof(float), sizeof m);
  EXPECT_EQ(m[2], 1.0f);
  EXPECT_EQ(m[3], 0.0f);
}

TEST(SafetensorsPython, AnIndependentReaderReadsWhatWeWrite) {
  if (!python_can_import("numpy")) GTEST_SKIP() << kPython << " with numpy is not available";
  TempDir dir;
  const auto s = samples();
  const std::map<std::string, std::string> metadata = {{"format", "pt"}, {"schedule", "quintic"}};
  write_safetensors(dir / "ours.safetensors", to_write(s), metadata);
  std::ofstream(dir / "reader.py") << kPythonReader;
  const auto r = run_python({(dir / "reader.py").string(), (dir / "ours.safetensors").string()});
  ASSERT_TRUE(r.ok()) << r.out << r.err;
  const json got = json::parse(r.out);

  EXPECT_EQ(got["metadata"], json(metadata));
  EXPECT_EQ(got["header_len"].get<uint64_t>() % 8, 0u);
  std::vector<std::string> order;
  for (const auto& t : s) order.push_back(t.name);
  EXPECT_EQ(got["order"].get<std::vector<std::string>>(), order);
  ASSERT_EQ(got["tensors"].size(), s.size());
  for (const auto& t : s) {
    SCOPED_TRACE(t.name);
    const json& g = got["tensors"][t.name];
    EXPECT_EQ(g["dtype"].get<std::string>(), to_string(t.dtype));
    EXPECT_EQ(g["shape"].get<std::vector<int64_t>>(), t.shape);
    EXPECT_EQ(g["values"], t.values);
  }
}

}  // namespace
}  // namespace locsweep
