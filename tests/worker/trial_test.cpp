// One trial end to end (worker/trial.hpp): its output files and result fields, the attention
// record read back with h5py, the attention size bound, NaN classification, bad input
// (InputError with a helpful message, existing files untouched), and the Hugging Face
// safetensors import/export.
#include <H5Cpp.h>
#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "common/error.hpp"
#include "common/files.hpp"
#include "data/corpus.hpp"
#include "data/tokenizer.hpp"
#include "support/python.hpp"
#include "trial/attention_reader.hpp"
#include "trial/safetensors.hpp"
#include "worker/attention_file.hpp"
#include "worker/checkpoint.hpp"
#include "worker/model.hpp"
#include "worker/model_io.hpp"
#include "worker/trial.hpp"
#include "worker_test_support.hpp"

namespace locsweep {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using testing::bitwise_equal;

constexpr int kLayers = 2, kHeads = 2, kT = 32;

// The trial of these tests; `model_extra` adds keys to model (", init: ...").
std::string base_yaml(const std::string& extra = "", const std::string& model_extra = "") {
  return "seed: 2\n"
         "model: {n_layer: 2, n_head: 2, n_embd: 32, block_size: 32" +
         model_extra +
         "}\n"
         "data: {corpus: text.txt, tokenizer: bytes}\n"
         "train: {steps: 6, batch_size: 4, lr: 2.0e-3, min_lr: 2.0e-4, warmup_steps: 2}\n"
         "locality: {mechanism: mask, schedule: quintic, blocks: sentence}\n"
         "eval: {every: 3, windows: 4}\n" +
         extra;
}

TrialResult run(const TrialConfig& c, const fs::path& out, ProgressSink* progress = nullptr,
                TrialRunOptions::Resume resume = TrialRunOptions::Resume::never) {
  TrialRunOptions o;
  o.out_dir = out;
  o.threads = 1;
  o.progress = progress;
  o.resume = resume;
  return run_trial(c, o);
}

// The validation tokens the trial evaluates on, derived independently of trial.cpp.
std::vector<int32_t> validation_tokens(const testing::TrialDir& dir, const TrialConfig& c) {
  const std::string text = load_corpus_text("text.txt", dir.path().string());
  return split_tokens(Tokenizer::bytes().encode(text), c.data.val_fraction, c.model.block_size).val;
}

TEST(Trial, WritesItsOutputsAndASaneResult) {
  testing::TrialDir dir;
  const TrialConfig c = testing::config_from_yaml(
      base_yaml("record: {attention_windows: 2, export_safetensors: true}\n"), dir.path());
  const fs::path out = dir / "out";
  testing::RecordingProgress events;
  const TrialResult r = run(c, out, &events);
  ASSERT_EQ(r.outcome, Outcome::done) << r.message;
  for (const char* name : {"trial.json", "checkpoint.h5", "attention.h5", "result.json",
                           "model.safetensors", "config.json"})
    EXPECT_TRUE(fs::exists(out / name)) << name;

  EXPECT_EQ(r.steps_done, 6);
  EXPECT_EQ(r.resumed_from, 0);
  EXPECT_TRUE(r.message.empty());
  EXPECT_TRUE(std::isfinite(r.val_loss));
  EXPECT_GT(r.val_loss, 0.0);
  EXPECT_LT(r.val_loss, std::log(256.0) + 1.0);  // not worse than a little above uniform
  EXPECT_DOUBLE_EQ(r.val_ppl, std::exp(r.val_loss));
  EXPECT_EQ(r.val_tokens, static_cast<int64_t>(validation_tokens(dir, c).size()) - 1);
  EXPECT_GT(r.train_loss, 0.0);
  EXPECT_GT(r.seconds, 0.0);
  EXPECT_NE(r.device.find("cpu"), std::string::npos);

  // Heads: one per layer and head, with the schedule's lambda and metrics in range.
  const auto lambdas = c.locality.schedule.lambdas(kLayers);
  ASSERT_EQ(r.heads.size(), static_cast<size_t>(kLayers * kHeads));
  for (const auto& h : r.heads) {
    EXPECT_EQ(h.lambda, lambdas[static_cast<size_t>(h.layer)]);
    EXPECT_GE(h.entropy_bits, 0.0);
    EXPECT_GE(h.entropy_norm, 0.0);
    EXPECT_LE(h.entropy_norm, 1.0 + 1e-6);
    EXPECT_GE(h.in_block_mass, 0.0);
    EXPECT_LE(h.in_block_mass, 1.0 + 1e-6);
    EXPECT_GE(h.mean_distance, 0.0);
    if (h.layer == kLayers - 1) {
      EXPECT_NEAR(h.in_block_mass, 1.0, 1e-6);  // lambda 1: strict mask
    }
  }

  // Artifacts name real files with their sizes and hashes.
  std::map<std::string, Artifact> by_kind;
  for (const auto& a : r.artifacts) by_kind[a.kind] = a;
  for (const char* kind : {"checkpoint", "attention", "safetensors"}) {
    ASSERT_TRUE(by_kind.count(kind)) << kind;
    const Artifact& a = by_kind[kind];
    EXPECT_EQ(a.bytes, static_cast<int64_t>(fs::file_size(a.path))) << kind;
    EXPECT_EQ(a.sha256, file_sha256(a.path)) << kind;
  }

  // result.json is the returned result; trial.json names the trial.
  const TrialResult stored =
      trial_result_from_json(json::parse(testing::read_bytes(out / "result.json")));
  EXPECT_EQ(stored.outcome, Outcome::done);
  EXPECT_EQ(stored.val_loss, r.val_loss);
  EXPECT_EQ(stored.val_tokens, r.val_tokens);
  EXPECT_EQ(stored.heads.size(), r.heads.size());
  const json trial = json::parse(testing::read_bytes(out / "trial.json"));
  EXPECT_EQ(trial.at("hash"), trial_hash(c));
  // config.json (HF) records which trial and locality the exported weights come from.
  const json hf = json::parse(testing::read_bytes(out / "config.json"));
  EXPECT_EQ(hf.at("locsweep").at("trial_hash"), trial_hash(c));
  EXPECT_EQ(hf.at("locsweep").at("locality").at("mechanism"), "mask");

  // Progress: start first, result-bearing steps, evals at the periodic steps.
  ASSERT_FALSE(events.events.empty());
  EXPECT_EQ(events.events.front().at("event"), "start");
  EXPECT_EQ(events.losses().size(), 6u);
  ASSERT_EQ(events.of_kind("eval").size(), 1u);  // step 3 (step 6 is the end: final evaluation)
  EXPECT_EQ(events.of_kind("eval").front().at("step"), 3);

  // The exported model loads back into a model of the trial's shape, equal to the checkpoint's.
  Gpt2 exported(gpt_config_for(c, 256), torch::kCPU);
  load_hf_safetensors(out / "model.safetensors", exported);
  Gpt2 checkpointed(gpt_config_for(c, 256), torch::kCPU);
  AdamW opt(checkpointed.parameters(), AdamWOptions{});
  load_checkpoint(out / "checkpoint.h5", trial_hash(c), checkpointed, opt);
  for (size_t i = 0; i < exported.parameters().size(); ++i)
    EXPECT_TRUE(
        bitwise_equal(exported.parameters()[i].tensor, checkpointed.parameters()[i].tensor));

  // The same trial in a fresh folder gives the same result (seeded, threads fixed).
  const TrialResult again = run(c, dir / "again");
  EXPECT_EQ(again.val_loss, r.val_loss);
}

// The attention record, read back with h5py the way an analysis script would.
const char* const kAttentionScript = R"PY(
import json, sys
import h5py, numpy as np
path, exp = sys.argv[1], json.load(open(sys.argv[2]))
W, L, H, T = exp["W"], exp["L"], exp["H"], exp["T"]
with h5py.File(path, "r") as f:
    assert f.attrs["format"] in ("locsweep-attention", b"locsweep-attention"), f.attrs["format"]
    a = f["attention"]
    assert a.dtype == np.float16, a.dtype
    assert a.shape == (W, L, H, T, T), a.shape
    assert a.chunks == (1, 1, 1, T, T), a.chunks
    assert a.compression == "gzip", a.compression
    x = a[...].astype(np.float64)
    rows = x.sum(-1)
    assert np.abs(rows - 1).max() < 5e-3, np.abs(rows - 1).max()
    assert np.all(np.triu(x, 1) == 0), "weight above the diagonal"
    assert np.all(x >= 0)
    for name in ("tokens", "blocks", "lambda", "starts"):
        assert name in f, name
    lam = f["lambda"][...]
    assert lam.dtype == np.float64 and lam.shape == (L,), (lam.dtype, lam.shape)
    assert np.array_equal(lam, np.array(exp["lambda"])), (lam, exp["lambda"])
    tokens, blocks, starts = f["tokens"][...], f["blocks"][...], f["starts"][...]
    assert tokens.shape == (W, T) and blocks.shape == (W, T) and starts.shape == (W,)
    val = np.array(exp["val"])
    cross = 0  # query-key pairs in different blocks, over all windows
    for w in range(W):
        assert np.array_equal(tokens[w], val[starts[w]:starts[w] + T]), "tokens of window %d" % w
        d = np.diff(blocks[w])
        assert blocks[w][0] == 0 and np.all((d == 0) | (d == 1)), blocks[w]
        # mask with lambda = 1 in the last layer: no weight outside the query's block
        outside = np.tril(blocks[w][:, None] != blocks[w][None, :])
        cross += outside.sum()
        assert np.all(x[w, L - 1][:, outside] == 0), "weight outside the block in the last layer"
        if outside.any() and exp["lambda"][0] == 0:
            assert np.all(x[w, 0][:, outside] > 0), "layer 0 is plain attention"
    assert cross > 0, "no window has two blocks: the mask check above saw nothing"
print("attention file ok")
)PY";

TEST(Trial, AttentionFileReadsBackWithH5py) {
  if (!test_support::python_can_import("h5py, numpy"))
    GTEST_SKIP() << "/usr/bin/python3 cannot import h5py";
  testing::TrialDir dir;
  const TrialConfig c =
      testing::config_from_yaml(base_yaml("record: {attention_windows: 3}\n"), dir.path());
  const TrialResult r = run(c, dir / "out");
  ASSERT_EQ(r.outcome, Outcome::done) << r.message;
  const auto val = validation_tokens(dir, c);
  testing::write_text(dir / "expected.json", json{{"W", 3},
                                                  {"L", kLayers},
                                                  {"H", kHeads},
                                                  {"T", kT},
                                                  {"lambda", c.locality.schedule.lambdas(kLayers)},
                                                  {"val", val}}
                                                 .dump());
  testing::write_text(dir / "check.py", kAttentionScript);
  const auto ran = test_support::run_python({(dir / "check.py").string(),
                                             (dir / "out" / "attention.h5").string(),
                                             (dir / "expected.json").string()});
  EXPECT_TRUE(ran.ok()) << ran.out << ran.err;
  EXPECT_NE(ran.out.find("attention file ok"), std::string::npos) << ran.out << ran.err;
  // The summary command reads the same file.
  EXPECT_NE(summarize_attention_file(dir / "out" / "attention.h5").find("layer"),
            std::string::npos);
}

int64_t stored_windows(const fs::path& file) {
  H5::H5File f(file.string(), H5F_ACC_RDONLY);
  hsize_t dims[5];
  f.openDataSet("attention").getSpace().getSimpleExtentDims(dims);
  return static_cast<int64_t>(dims[0]);
}

TEST(Trial, AttentionMaxMbBoundsTheStoredWindows) {
  // One window is 2 bytes * L * H * T * T = 8,192 bytes; 20 kB hold two of the four asked for.
  EXPECT_EQ(attention_windows_within(4, kLayers, kHeads, kT, 20000), 2);
  EXPECT_EQ(attention_windows_within(4, kLayers, kHeads, kT, 8192), 1);
  EXPECT_EQ(attention_windows_within(4, kLayers, kHeads, kT, 8191), 0);
  EXPECT_EQ(attention_windows_within(4, kLayers, kHeads, kT, 1e9), 4);
  testing::TrialDir dir;
  {
    const TrialConfig c = testing::config_from_yaml(
        base_yaml("record: {attention_windows: 4, attention_max_mb: 0.02}\n"), dir.path());
    testing::RecordingProgress events;
    ASSERT_EQ(run(c, dir / "two", &events).outcome, Outcome::done);
    EXPECT_EQ(stored_windows(dir / "two" / "attention.h5"), 2);
    bool warned = false;
    for (const auto& e : events.of_kind("warning"))
      warned |= e.at("message").get<std::string>().find("attention_max_mb") != std::string::npos;
    EXPECT_TRUE(warned) << "a warning says the record was limited";
  }
  {
    const TrialConfig c = testing::config_from_yaml(
        base_yaml("record: {attention_windows: 4, attention_max_mb: 0.001}\n"), dir.path());
    const TrialResult r = run(c, dir / "none");
    ASSERT_EQ(r.outcome, Outcome::done);
    EXPECT_FALSE(fs::exists(dir / "none" / "attention.h5"));
    for (const auto& a : r.artifacts) EXPECT_NE(a.kind, "attention");
    EXPECT_EQ(r.heads.size(),
              static_cast<size_t>(kLayers * kHeads));  // metrics do not need the record
  }
}

// The trainer's metrics (from float32 attention at evaluation time) and the metrics read back
// from the recorded float16 attention of the same windows come from one implementation
// (trial/attention_metrics.hpp): they agree to float16 rounding, head by head.
TEST(Trial, MetricsOfTheAttentionFileMatchTheResult) {
  testing::TrialDir dir;
  const TrialConfig c =
      testing::config_from_yaml(base_yaml("record: {attention_windows: 4}\n"), dir.path());
  const TrialResult r = run(c, dir / "out");
  ASSERT_EQ(r.outcome, Outcome::done) << r.message;
  const AttentionFileReader file(dir / "out" / "attention.h5");
  ASSERT_EQ(file.shape().windows, 4) << "the record holds every window the metrics saw";
  const auto heads = head_metrics(file);
  ASSERT_EQ(heads.size(), r.heads.size());
  for (size_t i = 0; i < heads.size(); ++i) {
    SCOPED_TRACE("layer " + std::to_string(heads[i].layer) + " head " +
                 std::to_string(heads[i].head));
    EXPECT_EQ(heads[i].layer, r.heads[i].layer);
    EXPECT_EQ(heads[i].head, r.heads[i].head);
    EXPECT_EQ(heads[i].lambda, r.heads[i].lambda);
    EXPECT_NEAR(heads[i].entropy_bits, r.heads[i].entropy_bits, 5e-3);
    EXPECT_NEAR(heads[i].entropy_norm, r.heads[i].entropy_norm, 5e-3);
    EXPECT_NEAR(heads[i].in_block_mass, r.heads[i].in_block_mass, 2e-3);
    EXPECT_NEAR(heads[i].mean_distance, r.heads[i].mean_distance, 2e-2);
  }
}

TEST(Trial, NanLossIsClassifiedAsNan) {
  testing::TrialDir dir;
  const TrialConfig plain = testing::config_from_yaml(base_yaml(), dir.path());
  Gpt2 model(gpt_config_for(plain, 256), torch::kCPU);
  model.init_weights(1);
  {
    torch::NoGradGuard no_grad;
    model.parameter("h.0.mlp.c_fc.weight").fill_(std::numeric_limits<float>::quiet_NaN());
  }
  export_hf_safetensors(dir / "nan.safetensors", model);
  const TrialConfig c =
      testing::config_from_yaml(base_yaml("", ", init: \"hf:nan.safetensors\""), dir.path());
  const TrialResult r = run(c, dir / "out");
  EXPECT_EQ(r.outcome, Outcome::nan);
  EXPECT_NE(r.message.find("loss"), std::string::npos) << r.message;
  EXPECT_EQ(r.steps_done, 0);
  ASSERT_TRUE(fs::exists(dir / "out" / "result.json"));
  const auto stored =
      trial_result_from_json(json::parse(testing::read_bytes(dir / "out" / "result.json")));
  EXPECT_EQ(stored.outcome, Outcome::nan);
  EXPECT_FALSE(is_retryable(Outcome::nan));
}

// Writes a copy of `from` with tensor `drop` left out and, optionally, `reshape` stored with
// a different (transposed) shape.
void rewrite_safetensors(const fs::path& from, const fs::path& to, const std::string& drop,
                         const std::string& reshape) {
  const SafetensorsFile file = SafetensorsFile::open(from);
  std::vector<TensorToWrite> tensors;
  for (const auto& t : file.tensors()) {
    if (t.name == drop) continue;
    auto shape = t.shape;
    if (t.name == reshape) std::swap(shape[0], shape[1]);
    tensors.push_back({t.name, t.dtype, shape, file.data(t)});
  }
  write_safetensors(to, tensors);
}

struct BadInput {
  std::string name;
  // Prepares the folder and returns the config's YAML; may also set the resume mode.
  std::function<std::string(const testing::TrialDir&, TrialRunOptions::Resume&)> setup;
  std::vector<std::string> message_has;  // substrings of the InputError's message
};

class TrialBadInput : public ::testing::TestWithParam<BadInput> {};

TEST_P(TrialBadInput, ThrowsInputErrorAndLeavesTheOutFolderAlone) {
  const BadInput& b = GetParam();
  testing::TrialDir dir;
  const fs::path out = dir / "out";
  fs::create_directories(out);
  // What an earlier attempt in this folder left behind.
  testing::write_text(out / "notes.txt", "keep me\n");
  testing::write_text(out / "trial.json", R"({"hash": "an earlier trial"})"
                                          "\n");
  TrialRunOptions::Resume resume = TrialRunOptions::Resume::never;
  const std::string yaml = b.setup(dir, resume);
  std::map<fs::path, std::string> before;
  for (const auto& e : fs::directory_iterator(out))
    before[e.path()] = testing::read_bytes(e.path());

  const TrialConfig c = testing::config_from_yaml(yaml, dir.path());
  try {
    run(c, out, nullptr, resume);
    ADD_FAILURE() << "no error";
  } catch (const InputError& e) {
    for (const auto& s : b.message_has)
      EXPECT_NE(std::string(e.what()).find(s), std::string::npos)
          << "'" << s << "' not in: " << e.what();
  } catch (const std::exception& e) {
    ADD_FAILURE() << "not an InputError: " << e.what();
  }
  std::map<fs::path, std::string> after;
  for (const auto& e : fs::directory_iterator(out)) after[e.path()] = testing::read_bytes(e.path());
  EXPECT_EQ(after.size(), before.size()) << "files were added to or removed from the out folder";
  for (const auto& [path, bytes] : before) {
    ASSERT_TRUE(after.count(path)) << path << " was removed";
    EXPECT_TRUE(after[path] == bytes) << path << " was changed";
  }
}

std::string with_model(const std::string& init) {
  return base_yaml("", ", init: \"" + init + "\"");
}

// The model of base_yaml()'s trials (byte vocabulary).
constexpr GptConfig kBaseModel{
    .n_layer = kLayers, .n_head = kHeads, .n_embd = 32, .block_size = kT, .vocab_size = 256};

void export_tiny(const testing::TrialDir& dir, const fs::path& file) {
  Gpt2 model(kBaseModel, torch::kCPU);
  model.init_weights(3);
  export_hf_safetensors(file, model);
}

// A valid checkpoint of the same model shape that belongs to another trial.
void save_foreign_checkpoint(const fs::path& file) {
  Gpt2 model(kBaseModel, torch::kCPU);
  model.init_weights(4);
  AdamW optimizer(model.parameters(), AdamWOptions{});
  TrainingState state;
  state.step = 3;
  save_checkpoint(file, std::string(64, 'f'), "{}", 1, model, optimizer, state);
}

INSTANTIATE_TEST_SUITE_P(
    Table, TrialBadInput,
    ::testing::Values(
        BadInput{"missing_corpus",
                 [](const testing::TrialDir&, TrialRunOptions::Resume&) {
                   std::string y = base_yaml();
                   return y.replace(y.find("text.txt"), 8, "missing.txt");
                 },
                 {"missing.txt"}},
        BadInput{"empty_corpus",
                 [](const testing::TrialDir& d, TrialRunOptions::Resume&) {
                   testing::write_text(d / "empty.txt", "");
                   std::string y = base_yaml();
                   return y.replace(y.find("text.txt"), 8, "empty.txt");
                 },
                 {"empty"}},
        BadInput{"text_shorter_than_a_window",
                 [](const testing::TrialDir& d, TrialRunOptions::Resume&) {
                   testing::write_text(d / "short.txt",
                                       "Call me Ishmael. Some years ago, never mind how long.");
                   std::string y = base_yaml();
                   return y.replace(y.find("text.txt"), 8, "short.txt");
                 },
                 {"tokens", "block_size"}},
        BadInput{"tokenizer_folder_without_files",
                 [](const testing::TrialDir& d, TrialRunOptions::Resume&) {
                   fs::create_directories(d / "tokdir");
                   std::string y = base_yaml();
                   return y.replace(y.find("tokenizer: bytes"), 16, "tokenizer: tokdir");
                 },
                 {"tokdir", "encoder.json"}},
        BadInput{"safetensors_missing_tensor",
                 [](const testing::TrialDir& d, TrialRunOptions::Resume&) {
                   export_tiny(d, d / "full.safetensors");
                   rewrite_safetensors(d / "full.safetensors", d / "partial.safetensors",
                                       "h.1.mlp.c_fc.bias", "");
                   return with_model("hf:partial.safetensors");
                 },
                 {"partial.safetensors", "h.1.mlp.c_fc.bias"}},
        BadInput{"safetensors_misshaped_tensor",
                 [](const testing::TrialDir& d, TrialRunOptions::Resume&) {
                   export_tiny(d, d / "full.safetensors");
                   rewrite_safetensors(d / "full.safetensors", d / "bent.safetensors", "",
                                       "h.0.attn.c_attn.weight");
                   return with_model("hf:bent.safetensors");
                 },
                 {"bent.safetensors", "h.0.attn.c_attn.weight", "[96, 32]", "[32, 96]"}},
        BadInput{"safetensors_file_missing",
                 [](const testing::TrialDir&, TrialRunOptions::Resume&) {
                   return with_model("hf:absent.safetensors");
                 },
                 {"absent.safetensors"}},
        BadInput{"out_folder_holds_a_checkpoint",
                 [](const testing::TrialDir& d, TrialRunOptions::Resume&) {
                   testing::write_text(d / "out" / "checkpoint.h5",
                                       "a checkpoint of an earlier run");
                   return base_yaml();
                 },
                 {"already holds a checkpoint", "resume"}},
        BadInput{"resume_into_another_trials_checkpoint",
                 [](const testing::TrialDir& d, TrialRunOptions::Resume& resume) {
                   resume = TrialRunOptions::Resume::required;
                   save_foreign_checkpoint(d / "out" / "checkpoint.h5");
                   return base_yaml();
                 },
                 {"belongs to trial"}},
        BadInput{"resume_if_valid_into_another_trials_checkpoint",
                 [](const testing::TrialDir& d, TrialRunOptions::Resume& resume) {
                   resume = TrialRunOptions::Resume::if_valid;
                   save_foreign_checkpoint(d / "out" / "checkpoint.h5");
                   return base_yaml();
                 },
                 {"belongs to trial"}},
        BadInput{"resume_required_without_checkpoint",
                 [](const testing::TrialDir&, TrialRunOptions::Resume& resume) {
                   resume = TrialRunOptions::Resume::required;
                   return base_yaml();
                 },
                 {"no checkpoint"}}),
    [](const ::testing::TestParamInfo<BadInput>& info) { return info.param.name; });

// A small model for the safetensors import/export tests.
constexpr GptConfig kSmallModel{
    .n_layer = 2, .n_head = 2, .n_embd = 16, .block_size = 8, .vocab_size = 30};

TEST(HfSafetensors, ExportImportRoundTripIsBitwise) {
  testing::TempDir dir;
  Gpt2 a(kSmallModel, torch::kCPU), b(kSmallModel, torch::kCPU);
  a.init_weights(1);
  {
    torch::NoGradGuard no_grad;
    auto gen = at::make_generator<at::CPUGeneratorImpl>(9);
    for (const auto& p : a.parameters()) p.tensor.add_(at::normal(0.0, 0.1, p.tensor.sizes(), gen));
  }
  b.init_weights(2);
  export_hf_safetensors(dir / "m.safetensors", a);
  const SafetensorsFile file = SafetensorsFile::open(dir / "m.safetensors");
  EXPECT_EQ(file.tensors().size(), a.parameters().size());
  for (const auto& t : file.tensors()) {
    EXPECT_EQ(t.dtype, DType::f32) << t.name;
    EXPECT_NE(t.name.rfind("transformer.", 0), 0u) << "no prefix, as HF's gpt2 repo: " << t.name;
  }
  EXPECT_EQ(file.find("h.0.attn.c_attn.weight")->shape,
            (std::vector<int64_t>{16, 48}));  // Conv1D [in, out]
  load_hf_safetensors(dir / "m.safetensors", b);
  for (size_t i = 0; i < a.parameters().size(); ++i)
    EXPECT_TRUE(bitwise_equal(a.parameters()[i].tensor, b.parameters()[i].tensor))
        << a.parameters()[i].name;
}

// An HF-style file: "transformer." prefix, attention-mask buffers, a tied lm_head.weight, a
// longer wpe (HF's 1,024 positions) and float16 storage of one tensor.
TEST(HfSafetensors, ImportAcceptsPrefixIgnoresBuffersAndCropsPositions) {
  testing::TempDir dir;
  Gpt2 a(kSmallModel, torch::kCPU), b(kSmallModel, torch::kCPU);
  a.init_weights(5);
  b.init_weights(6);
  {
    torch::NoGradGuard no_grad;
    auto noise = at::make_generator<at::CPUGeneratorImpl>(2);
    for (const auto& p : a.parameters())
      p.tensor.add_(at::normal(0.0, 0.1, p.tensor.sizes(), noise));
  }
  std::vector<torch::Tensor> keep;
  std::vector<TensorToWrite> tensors;
  auto add = [&](const std::string& name, torch::Tensor t, DType dtype) {
    keep.push_back(t.contiguous());
    const auto& k = keep.back();
    tensors.push_back({name, dtype, k.sizes().vec(),
                       std::span<const std::byte>(static_cast<const std::byte*>(k.data_ptr()),
                                                  static_cast<size_t>(k.nbytes()))});
  };
  auto gen = at::make_generator<at::CPUGeneratorImpl>(1);
  const auto extra_positions = at::normal(0.0, 1.0, {24, 16}, gen);
  for (const auto& p : a.parameters()) {
    auto t = p.tensor.detach();
    if (p.name == "wpe.weight") t = torch::cat({t, extra_positions});
    if (p.name == "ln_f.bias") {
      add("transformer." + p.name, t.to(torch::kHalf), DType::f16);
      continue;
    }
    add("transformer." + p.name, t, DType::f32);
  }
  for (int l = 0; l < 2; ++l) {
    add("transformer.h." + std::to_string(l) + ".attn.bias", torch::ones({1, 1, 8, 8}).tril(),
        DType::f32);
    add("transformer.h." + std::to_string(l) + ".attn.masked_bias", torch::full({}, -1e4f),
        DType::f32);
  }
  add("lm_head.weight", a.parameter("wte.weight").detach(), DType::f32);
  write_safetensors(dir / "hf.safetensors", tensors, {{"format", "pt"}});

  load_hf_safetensors(dir / "hf.safetensors", b);
  for (const auto& p : a.parameters()) {
    if (p.name == "ln_f.bias") {
      EXPECT_TRUE(
          bitwise_equal(b.parameter(p.name), p.tensor.detach().to(torch::kHalf).to(torch::kFloat)));
      continue;
    }
    EXPECT_TRUE(bitwise_equal(b.parameter(p.name), p.tensor)) << p.name;
  }
}

}  // namespace
}  // namespace locsweep
