// Hostile and damaged files: every reader of an HDF5 file (h5::Reader, the attention reader,
// the checkpoint reader), the token cache and the schedule parser turn them into one clear
// error naming the file and the object, never a crash or wrong numbers. Files are crafted
// here with HDF5's C++ API: a valid one first, then one thing wrong at a time.
#include <gtest/gtest.h>

#include <H5Cpp.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <span>
#include <string>
#include <variant>
#include <vector>

#include "data/corpus.hpp"
#include "schedules/schedule.hpp"
#include "support/temp_dir.hpp"
#include "sweeps/plan.hpp"
#include "sweeps/sweep_spec.hpp"
#include "trial/attention_reader.hpp"
#include "trial/checkpoint_reader.hpp"
#include "trial/hdf5_io.hpp"

namespace locsweep {
namespace {
namespace fs = std::filesystem;
using test_support::TempDir;

// --- crafting files ------------------------------------------------------------------------

void string_attr(H5::H5File& f, const std::string& name, const std::string& value) {
  h5::write_string_attr(f, name, value);
}
void int_attr(H5::H5File& f, const std::string& name, int64_t value) {
  h5::write_int_attr(f, name, value);
}
// An integer attribute of shape `dims` (the SIGSEGV of issue 10: `step` as an array).
void int_array_attr(H5::H5File& f, const std::string& name, const std::vector<hsize_t>& dims) {
  size_t n = 1;
  for (hsize_t d : dims) n *= d;
  std::vector<int64_t> values(n, 7);
  H5::Attribute a = f.createAttribute(name, H5::PredType::STD_I64LE,
                                      H5::DataSpace(static_cast<int>(dims.size()), dims.data()));
  a.write(H5::PredType::NATIVE_INT64, values.data());
}

template <class T>
void dataset(H5::H5File& f, const std::string& name, const H5::PredType& type,
             const std::vector<hsize_t>& dims, T fill) {
  size_t n = 1;
  for (hsize_t d : dims) n *= d;
  std::vector<T> data(n, fill);
  h5::write_dataset(f, name, type, dims, data.data());
}

// A dataset of `dims` whose chunks were never written: it claims data the file lacks.
void empty_chunked(H5::H5File& f, const std::string& name, const std::vector<hsize_t>& dims) {
  H5::DSetCreatPropList props;
  std::vector<hsize_t> chunk(dims.size(), 1);
  props.setChunk(static_cast<int>(dims.size()), chunk.data());
  f.createDataSet(name, h5::float16_type(),
                  H5::DataSpace(static_cast<int>(dims.size()), dims.data()), props);
}

struct AttentionDims {
  hsize_t W = 2, L = 2, H = 1, T = 4;
};

// Everything of a valid attention file except the datasets and attributes `skip` names.
void write_attention(const fs::path& path, const std::vector<std::string>& skip = {},
                     AttentionDims d = {}) {
  const auto keep = [&](const std::string& name) {
    return std::find(skip.begin(), skip.end(), name) == skip.end();
  };
  H5::H5File f(path.string(), H5F_ACC_TRUNC);
  if (keep("format")) string_attr(f, "format", "locsweep-attention");
  if (keep("version")) int_attr(f, "version", 1);
  for (const char* s : {"trial_hash", "config", "mechanism", "schedule"})
    if (keep(s)) string_attr(f, s, std::string(s) + "-value-0123456789");
  if (keep("n_layer")) int_attr(f, "n_layer", static_cast<int64_t>(d.L));
  if (keep("n_head")) int_attr(f, "n_head", static_cast<int64_t>(d.H));
  if (keep("block_size")) int_attr(f, "block_size", static_cast<int64_t>(d.T));
  if (keep("tokens")) dataset<int32_t>(f, "tokens", H5::PredType::NATIVE_INT32, {d.W, d.T}, 1);
  if (keep("blocks")) dataset<int32_t>(f, "blocks", H5::PredType::NATIVE_INT32, {d.W, d.T}, 0);
  if (keep("starts")) dataset<int64_t>(f, "starts", H5::PredType::NATIVE_INT64, {d.W}, 0);
  if (keep("lambda")) dataset<double>(f, "lambda", H5::PredType::NATIVE_DOUBLE, {d.L}, 0.5);
  if (keep("attention")) {
    // Uniform causal attention: row i spreads 1/(i+1) over keys 0..i.
    std::vector<float> a(d.W * d.L * d.H * d.T * d.T, 0.0f);
    for (size_t m = 0; m < d.W * d.L * d.H; ++m)
      for (hsize_t i = 0; i < d.T; ++i)
        for (hsize_t j = 0; j <= i; ++j) a[(m * d.T + i) * d.T + j] = 1.0f / float(i + 1);
    const hsize_t dims[5] = {d.W, d.L, d.H, d.T, d.T};
    H5::DataSet ds = f.createDataSet("attention", h5::float16_type(), H5::DataSpace(5, dims));
    ds.write(a.data(), H5::PredType::NATIVE_FLOAT);
  }
}

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const CorruptFileError& e) {
    return std::string("corrupt: ") + e.what();
  } catch (const InputError& e) {
    return std::string("input: ") + e.what();
  } catch (const std::exception& e) {
    return std::string("other: ") + e.what();
  }
  return "(no error)";
}

class HostileAttention : public ::testing::Test {
 protected:
  std::string summarize_error() const {
    return error_of([&] { summarize_attention_file(path_); });
  }
  TempDir dir_;
  fs::path path_ = dir_ / "attention.h5";
};

TEST_F(HostileAttention, ValidFileSummarisesWithTheRightNumbers) {
  write_attention(path_);
  const std::string s = summarize_attention_file(path_);
  // Entropy of uniform rows over 1..4 keys: mean of log2(1..4) = (0 + 1 + 1.585 + 2) / 4.
  const double entropy = (std::log2(1.0) + std::log2(2.0) + std::log2(3.0) + std::log2(4.0)) / 4;
  char expected[32];
  std::snprintf(expected, sizeof expected, "  0.5000  %13.3f", entropy);
  EXPECT_NE(s.find(expected), std::string::npos) << s;
  EXPECT_NE(s.find("2 windows x 2 layers x 1 heads x 4x4"), std::string::npos) << s;
}

struct AttentionCase {
  std::string name;
  std::function<void(const fs::path&)> craft;
  std::string message;  // a part of the error
};

class HostileAttentionCases : public ::testing::TestWithParam<AttentionCase> {};

TEST_P(HostileAttentionCases, GiveOneClearErrorNamingFileAndObject) {
  TempDir dir;
  const fs::path path = dir / "attention.h5";
  GetParam().craft(path);
  const std::string e = error_of([&] { summarize_attention_file(path); });
  EXPECT_EQ(e.rfind("corrupt: file '" + path.string() + "': ", 0), 0u) << e;
  EXPECT_NE(e.find(GetParam().message), std::string::npos) << e;
  EXPECT_NE(e.find("the file is not a locsweep attention file or is damaged"), std::string::npos)
      << e;
  // The report's reader is the same reader.
  EXPECT_EQ(error_of([&] { AttentionFileReader{path}; }).substr(0, 8), "corrupt:");
}

// Rewrites one dataset of a valid file.
std::function<void(const fs::path&)> with_dataset(const std::string& name,
                                                  const std::function<void(H5::H5File&)>& write) {
  return [=](const fs::path& path) {
    write_attention(path, {name});
    H5::H5File f(path.string(), H5F_ACC_RDWR);
    write(f);
  };
}
std::function<void(const fs::path&)> with_attr(const std::string& name,
                                               const std::function<void(H5::H5File&)>& write) {
  return with_dataset(name, write);
}

INSTANTIATE_TEST_SUITE_P(
    Table, HostileAttentionCases,
    ::testing::Values(
        AttentionCase{"LambdaOfAnotherRank", with_dataset("lambda",
                                                          [](H5::H5File& f) {
                                                            dataset<double>(
                                                                f, "lambda",
                                                                H5::PredType::NATIVE_DOUBLE,
                                                                {2, 1}, 0.5);
                                                          }),
                      "dataset '/lambda' has shape [2, 1] (rank 2), expected rank 1"},
        AttentionCase{"LambdaLongerThanTheLayers",
                      with_dataset("lambda",
                                   [](H5::H5File& f) {
                                     dataset<double>(f, "lambda", H5::PredType::NATIVE_DOUBLE,
                                                     {1000}, 0.5);
                                   }),
                      "dataset '/lambda' has shape [1000], expected [2]"},
        AttentionCase{"BlocksTooShort",
                      with_dataset("blocks",
                                   [](H5::H5File& f) {
                                     dataset<int32_t>(f, "blocks", H5::PredType::NATIVE_INT32,
                                                      {2, 3}, 0);
                                   }),
                      "dataset '/blocks' has shape [2, 3], expected [2, 4]"},
        AttentionCase{"BlocksLarger",
                      with_dataset("blocks",
                                   [](H5::H5File& f) {
                                     dataset<int32_t>(f, "blocks", H5::PredType::NATIVE_INT32,
                                                      {64, 4096}, 0);
                                   }),
                      "dataset '/blocks' has shape [64, 4096], expected [2, 4]"},
        AttentionCase{"BlocksAsFloats",
                      with_dataset("blocks",
                                   [](H5::H5File& f) {
                                     dataset<double>(f, "blocks", H5::PredType::NATIVE_DOUBLE,
                                                     {2, 4}, 0);
                                   }),
                      "dataset '/blocks' is floating-point, expected an integer dataset"},
        AttentionCase{"AttentionOfAnotherRank",
                      with_dataset("attention",
                                   [](H5::H5File& f) {
                                     dataset<float>(f, "attention", H5::PredType::NATIVE_FLOAT,
                                                    {2, 2, 4, 4}, 0.25f);
                                   }),
                      "dataset '/attention' has shape [2, 2, 4, 4] (rank 4), expected rank 5"},
        AttentionCase{"AttentionNotSquare",
                      with_dataset("attention",
                                   [](H5::H5File& f) {
                                     dataset<float>(f, "attention", H5::PredType::NATIVE_FLOAT,
                                                    {2, 2, 1, 4, 5}, 0.25f);
                                   }),
                      "its matrices are not square"},
        AttentionCase{"AttentionScalar",
                      with_dataset("attention",
                                   [](H5::H5File& f) {
                                     dataset<float>(f, "attention", H5::PredType::NATIVE_FLOAT, {},
                                                    0.25f);
                                   }),
                      "dataset '/attention' has no shape"},
        AttentionCase{"AttentionDimensionAboveAnyLimit",
                      with_dataset("attention",
                                   [](H5::H5File& f) {
                                     empty_chunked(f, "attention", {2, 2, 1, 100000, 100000});
                                   }),
                      "exceeds 65536"},
        AttentionCase{"AttentionClaimsDataTheFileLacks",
                      with_dataset("attention",
                                   [](H5::H5File& f) {
                                     empty_chunked(f, "attention", {4000, 90, 100, 64, 64});
                                   }),
                      "but stores 0 bytes"},
        AttentionCase{"LayerCountAttributeDisagrees",
                      with_attr("n_layer", [](H5::H5File& f) { int_attr(f, "n_layer", 12); }),
                      "the attribute 'n_layer' is 12, but dataset '/attention' has shape"},
        AttentionCase{"VersionAsAnArray", with_attr("version",
                                                    [](H5::H5File& f) {
                                                      int_array_attr(f, "version", {3});
                                                    }),
                      "attribute 'version' has shape [3], expected a scalar"},
        AttentionCase{"VersionAsAString",
                      with_attr("version",
                                [](H5::H5File& f) { string_attr(f, "version", "1"); }),
                      "attribute 'version' is string, expected an integer"},
        // Found by fuzz_attention: HDF5's C++ wrapper calls strlen(NULL) on a null string.
        AttentionCase{"FormatANullString",
                      with_attr("format",
                                [](H5::H5File& f) {
                                  H5::StrType type(H5::PredType::C_S1, H5T_VARIABLE);
                                  H5::Attribute a = f.createAttribute("format", type,
                                                                      H5::DataSpace(H5S_SCALAR));
                                  const char* null = nullptr;
                                  a.write(type, &null);
                                }),
                      "attribute 'format' is a null string"},
        AttentionCase{"FormatMissing", with_attr("format", [](H5::H5File&) {}),
                      "the attribute 'format' is not 'locsweep-attention'"},
        AttentionCase{"TokensMissing", with_dataset("tokens", [](H5::H5File&) {}),
                      "the dataset '/tokens' is missing"},
        AttentionCase{"LambdaAsASoftLink",
                      with_dataset("lambda",
                                   [](H5::H5File& f) {
                                     H5Lcreate_soft("/starts", f.getId(), "lambda", H5P_DEFAULT,
                                                    H5P_DEFAULT);
                                   }),
                      "'/lambda' is a soft or external link"},
        AttentionCase{"LambdaAsAnExternalLink",
                      with_dataset("lambda",
                                   [](H5::H5File& f) {
                                     H5Lcreate_external("/etc/passwd", "/x", f.getId(), "lambda",
                                                        H5P_DEFAULT, H5P_DEFAULT);
                                   }),
                      "'/lambda' is a soft or external link"},
        AttentionCase{"LambdaAsAGroup",
                      with_dataset("lambda", [](H5::H5File& f) { f.createGroup("/lambda"); }),
                      "'/lambda' is not a dataset"},
        AttentionCase{"NotHdf5",
                      [](const fs::path& p) { std::ofstream(p) << "not an HDF5 file\n"; },
                      "not an HDF5 file"},
        AttentionCase{"Truncated",
                      [](const fs::path& p) {
                        write_attention(p);
                        fs::resize_file(p, fs::file_size(p) / 2);
                      },
                      "cannot be read"}),
    [](const auto& info) { return info.param.name; });

TEST_F(HostileAttention, MissingFileIsAnInputErrorNamingIt) {
  EXPECT_EQ(summarize_error(), "input: no such file: '" + path_.string() + "'");
}

TEST_F(HostileAttention, AnotherVersionIsAnInputErrorThatSaysWhichVersions) {
  write_attention(path_, {"version"});
  {
    H5::H5File f(path_.string(), H5F_ACC_RDWR);
    int_attr(f, "version", 2);
  }
  EXPECT_NE(summarize_error().find("input: attention file '" + path_.string() +
                                   "' has format version 2; this locsweep reads 1"),
            std::string::npos);
}

// --- checkpoints (the torch-free reader with a small layout) -------------------------------

const std::vector<CheckpointDataset>& tiny_layout() {
  static const std::vector<CheckpointDataset> layout = {
      {"/model/w", h5::Element::float32, {2, 3}},
      {"/rng/dropout", h5::Element::uint8, {}, true, 16},
  };
  return layout;
}

// A valid checkpoint of tiny_layout(); `mutate` may spoil it before the checksum is written.
void write_checkpoint(const fs::path& path, const std::function<void(H5::H5File&)>& mutate = {},
                      const std::vector<std::string>& skip = {}) {
  const auto keep = [&](const std::string& name) {
    return std::find(skip.begin(), skip.end(), name) == skip.end();
  };
  const std::vector<float> w = {1, 2, 3, 4, 5, 6};
  const std::vector<uint8_t> rng = {9, 8, 7};
  H5::H5File f(path.string(), H5F_ACC_TRUNC);
  if (keep("format")) string_attr(f, "format", kCheckpointFormat);
  if (keep("version")) int_attr(f, "version", 1);
  if (keep("trial_hash")) string_attr(f, "trial_hash", std::string(64, 'a'));
  if (keep("config")) string_attr(f, "config", "{}");
  if (keep("step")) int_attr(f, "step", 5);
  f.createGroup("/model");
  f.createGroup("/rng");
  if (keep("w")) {
    H5::Group g = f.openGroup("/model");
    h5::write_dataset(g, "w", H5::PredType::NATIVE_FLOAT, {2, 3}, w.data());
  }
  if (keep("dropout")) {
    H5::Group g = f.openGroup("/rng");
    h5::write_dataset(g, "dropout", H5::PredType::NATIVE_UINT8, {3}, rng.data());
  }
  if (mutate) mutate(f);
  const auto bytes = [](const auto& v) {
    return std::span<const std::byte>(reinterpret_cast<const std::byte*>(v.data()),
                                      v.size() * sizeof(v[0]));
  };
  string_attr(f, "checksum",
              checkpoint_checksum("{}", 5, {{"/model/w", bytes(w)}, {"/rng/dropout", bytes(rng)}}));
}

std::string read_checkpoint_error(const fs::path& path) {
  std::vector<std::vector<std::byte>> buffers(tiny_layout().size());
  return error_of([&] {
    read_checkpoint_file(path, "", tiny_layout(), [&](size_t i, const std::vector<int64_t>& s) {
      size_t n = h5::element_size(tiny_layout()[i].type);
      for (int64_t d : s) n *= static_cast<size_t>(d);
      buffers[i].resize(n);
      return std::span<std::byte>(buffers[i]);
    });
  });
}

TEST(HostileCheckpoint, ValidTinyCheckpointReads) {
  TempDir dir;
  write_checkpoint(dir / "c.h5");
  EXPECT_EQ(read_checkpoint_error(dir / "c.h5"), "(no error)");
}

struct CheckpointCase {
  std::string name;
  std::function<void(const fs::path&)> craft;
  std::string message;
  bool corrupt = true;  // CorruptFileError (else a plain InputError)
};
class HostileCheckpointCases : public ::testing::TestWithParam<CheckpointCase> {};

TEST_P(HostileCheckpointCases, GiveOneClearError) {
  TempDir dir;
  const fs::path path = dir / "checkpoint.h5";
  GetParam().craft(path);
  const std::string e = read_checkpoint_error(path);
  EXPECT_EQ(e.substr(0, 7), GetParam().corrupt ? "corrupt" : "input: ") << e;
  EXPECT_NE(e.find(path.string()), std::string::npos) << e;
  EXPECT_NE(e.find(GetParam().message), std::string::npos) << e;
}

std::function<void(const fs::path&)> spoiled(const std::vector<std::string>& skip,
                                             const std::function<void(H5::H5File&)>& mutate) {
  return [=](const fs::path& p) { write_checkpoint(p, mutate, skip); };
}

INSTANTIATE_TEST_SUITE_P(
    Table, HostileCheckpointCases,
    ::testing::Values(
        CheckpointCase{"StepAsAnArray",
                       spoiled({"step"}, [](H5::H5File& f) { int_array_attr(f, "step", {64}); }),
                       "attribute 'step' has shape [64], expected a scalar"},
        CheckpointCase{"VersionAsAMatrix", spoiled({"version"},
                                                   [](H5::H5File& f) {
                                                     int_array_attr(f, "version", {4, 4});
                                                   }),
                       "attribute 'version' has shape [4, 4], expected a scalar"},
        CheckpointCase{"TrialHashAsAnInteger",
                       spoiled({"trial_hash"},
                               [](H5::H5File& f) { int_attr(f, "trial_hash", 1); }),
                       "attribute 'trial_hash' is integer, expected a string"},
        CheckpointCase{"StepMissing", spoiled({"step"}, {}), "the attribute 'step' is missing"},
        CheckpointCase{"NegativeStep",
                       spoiled({"step"}, [](H5::H5File& f) { int_attr(f, "step", -3); }),
                       "the attribute 'step' is negative"},
        CheckpointCase{"WeightOfAnotherRank",
                       spoiled({"w"},
                               [](H5::H5File& f) {
                                 dataset<float>(f, "/model/w", H5::PredType::NATIVE_FLOAT, {6},
                                                1.0f);
                               }),
                       "dataset '/model/w' has shape [6] (rank 1), expected rank 2"},
        CheckpointCase{"WeightOfAnotherShapeIsAnotherModel",
                       spoiled({"w"},
                               [](H5::H5File& f) {
                                 dataset<float>(f, "/model/w", H5::PredType::NATIVE_FLOAT, {3, 2},
                                                1.0f);
                               }),
                       "/model/w has shape [3, 2], the model needs [2, 3]", false},
        CheckpointCase{"WeightAsIntegers",
                       spoiled({"w"},
                               [](H5::H5File& f) {
                                 dataset<int32_t>(f, "/model/w", H5::PredType::NATIVE_INT32,
                                                  {2, 3}, 1);
                               }),
                       "dataset '/model/w' is integer, expected a floating-point dataset"},
        CheckpointCase{"RngStateLongerThanAnyGenerator",
                       spoiled({"dropout"},
                               [](H5::H5File& f) {
                                 dataset<uint8_t>(f, "/rng/dropout", H5::PredType::NATIVE_UINT8,
                                                  {1000}, 1);
                               }),
                       "dataset '/rng/dropout' has shape [1000]: dimension 0 exceeds 16"},
        CheckpointCase{"WeightNeverWritten",
                       spoiled({"w"},
                               [](H5::H5File& f) { empty_chunked(f, "/model/w", {2, 3}); }),
                       "fails its checksum"},
        CheckpointCase{"ChecksumMismatch",
                       [](const fs::path& p) {
                         write_checkpoint(p, [](H5::H5File& f) { int_attr(f, "threads", 1); });
                         H5::H5File f(p.string(), H5F_ACC_RDWR);
                         f.removeAttr("checksum");
                         string_attr(f, "checksum", std::string(64, '0'));
                       },
                       "fails its checksum"},
        CheckpointCase{"Truncated",
                       [](const fs::path& p) {
                         write_checkpoint(p);
                         fs::resize_file(p, 1000);
                       },
                       "cannot be read"}),
    [](const auto& info) { return info.param.name; });

// --- the token cache -----------------------------------------------------------------------

TEST(HostileTokenCache, EveryDamageIsAReasonNeverAnOutOfBoundsRead) {
  const std::string key = "tokens of some text";
  const std::string good = encode_token_cache(key, {1, 2, 3, 50256});
  ASSERT_TRUE(std::holds_alternative<std::vector<int32_t>>(decode_token_cache(good, key)));
  const auto reason = [&](std::string data) {
    const auto r = decode_token_cache(data, key);
    return std::holds_alternative<std::string>(r) ? std::get<std::string>(r) : "(tokens)";
  };
  EXPECT_EQ(reason(good.substr(0, 20)), "shorter than its header");
  EXPECT_EQ(reason(good.substr(0, good.size() - 1)), "holds 15 payload bytes for 4 tokens");
  std::string huge_count = good;
  for (int k = 0; k < 8; ++k) huge_count[8 + k] = '\xff';  // 2^64 - 1 tokens: count*4 wraps
  EXPECT_NE(reason(huge_count).find("payload bytes for 18446744073709551615 tokens"),
            std::string::npos);
  std::string flipped = good;
  flipped.back() ^= 1;
  EXPECT_EQ(reason(flipped), "checksum mismatch");
  EXPECT_EQ(reason(encode_token_cache("another key", {1})),
            "belongs to other text or another tokenizer");
}

// --- schedule strings ------------------------------------------------------------------------

std::string nested_reverse(size_t depth, const std::string& inner = "cubic") {
  std::string s;
  for (size_t i = 0; i < depth; ++i) s += "reverse:";
  return s + inner;
}

TEST(HostileSchedule, DeepReverseNestingIsAClearErrorNotAStackOverflow) {
  try {
    Schedule::parse(nested_reverse(50'000));
    FAIL() << "parsed";
  } catch (const ScheduleError& e) {
    EXPECT_NE(std::string(e.what()).find("nests 'reverse:' more than 64 levels deep"),
              std::string::npos)
        << e.what();
  }
  EXPECT_THROW(Schedule::parse(nested_reverse(65)), ScheduleError);
}

TEST(HostileSchedule, NestingUpToTheLimitStillFoldsByParity) {
  EXPECT_EQ(Schedule::parse(nested_reverse(64)).canonical(), "cubic");
  EXPECT_EQ(Schedule::parse(nested_reverse(63)).canonical(), "reverse:cubic");
  EXPECT_EQ(Schedule::parse(" reverse: reverse:linear ").canonical(), "linear");
  EXPECT_THROW(Schedule::parse("reverse"), ScheduleError);
  EXPECT_THROW(Schedule::parse("reverse:reverse:"), ScheduleError);
}

// --- sweep specs ---------------------------------------------------------------------------

// Found by fuzz_sweep_spec: a string that is not UTF-8 made plan_sweep's JSON dump throw
// nlohmann's type_error (exit 1, a library message). Now the spec is refused where it is read.
TEST(HostileSweepSpec, InvalidUtf8IsASpecErrorAtItsPosition) {
  for (const std::string bad :
       {"\xff", "\xc0\xaf", "\xed\xa0\x80", "\xf4\x90\x80\x80", "\xe2\x82"}) {
    const std::string text = "name: x\nkind: noop\ndescription: ab" + bad + "\n";
    const std::string e = error_of([&] { plan_sweep(parse_sweep(text, "bad.yaml", "/tmp")); });
    EXPECT_EQ(e, "input: bad.yaml:3:16: error: the file is not valid UTF-8 (save it as UTF-8)")
        << e;
  }
  EXPECT_EQ(error_of([&] {
              plan_sweep(parse_sweep("name: x\nkind: noop\ndescription: \u00e9\u20ac\U0001F600\n",
                                     "ok.yaml", "/tmp"));
            }),
            "(no error)");
}

}  // namespace
}  // namespace locsweep
