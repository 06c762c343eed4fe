// The fuzz targets' seeds (tests/fuzz/corpus/) are real files written by the real writers,
// and the fuzz layout is the real layout: this test checks both, and with
// LOCSWEEP_FUZZ_SEED_DIR set it (re)writes the seeds there (scripts/fuzz.sh --make-seeds).
#include <gtest/gtest.h>

#include <cstdlib>

#include "data/corpus.hpp"
#include "fuzz/fuzz_layouts.hpp"
#include "worker/adamw.hpp"
#include "worker/attention_file.hpp"
#include "worker/checkpoint.hpp"
#include "worker/model.hpp"
#include "worker/model_io.hpp"
#include "worker_test_support.hpp"

namespace locsweep {
namespace {
namespace fs = std::filesystem;
using testing::TempDir;

const fs::path kCorpus = fs::path(LOCSWEEP_SOURCE_DIR) / "tests" / "fuzz" / "corpus";
constexpr const char* kTokenKey = "fuzz seed key";  // fuzz_token_cache.cpp's key

GptConfig tiny_config() {
  return {.n_layer = fuzz::kLayers,
          .n_head = fuzz::kHeads,
          .n_embd = fuzz::kWidth,
          .block_size = fuzz::kBlockSize,
          .vocab_size = fuzz::kVocab};
}

bool same(const std::vector<CheckpointDataset>& a, const std::vector<CheckpointDataset>& b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i)
    if (a[i].path != b[i].path || a[i].type != b[i].type || a[i].shape != b[i].shape ||
        a[i].any_length != b[i].any_length || a[i].max_length != b[i].max_length)
      return false;
  return true;
}

// Writes one seed of each file format into `dir`/<target>/.
void write_seeds(const fs::path& dir) {
  for (const char* t : {"checkpoint", "attention", "safetensors", "token_cache"})
    fs::create_directories(dir / t);
  Gpt2 model(tiny_config(), torch::kCPU);
  model.init_weights(1);
  AdamW optimizer(model.parameters(), AdamWOptions{});
  TrainingState state;
  state.step = 3;
  state.rng_state = at::make_generator<at::CPUGeneratorImpl>(5).get_state();
  state.recent_loss = {3.5, 3.25};
  save_checkpoint(dir / "checkpoint" / "tiny.h5", std::string(64, 'a'), "{}", 1, model, optimizer,
                  state);
  export_hf_safetensors(dir / "safetensors" / "tiny.safetensors", model);

  AttentionRecord rec;
  const int64_t W = 2, L = 2, H = 2, T = 6;
  rec.tokens = torch::arange(W * T, torch::kInt64).reshape({W, T});
  rec.blocks = torch::tensor({0, 0, 1, 1, 1, 2, 0, 1, 1, 2, 2, 2}, torch::kInt64).reshape({W, T});
  rec.starts = {0, T};
  rec.lambdas = {0.0, 1.0};
  for (int64_t l = 0; l < L; ++l)
    rec.attention.push_back(torch::softmax(torch::randn({W, H, T, T}).tril(), -1));
  write_attention_file(dir / "attention" / "tiny.h5", rec,
                       {{"trial_hash", std::string(64, 'a')},
                        {"config", "{}"},
                        {"mechanism", "block"},
                        {"schedule", "quintic"}});
  testing::write_text(dir / "token_cache" / "tiny.tokens",
                      encode_token_cache(kTokenKey, {1, 2, 3, 50256}));
}

TEST(FuzzSeeds, TheFuzzLayoutIsTheRealCheckpointLayout) {
  const Gpt2 model(tiny_config(), torch::kCPU);
  EXPECT_TRUE(same(checkpoint_layout(model), fuzz::tiny_checkpoint_layout()))
      << "tests/fuzz/fuzz_layouts.hpp no longer matches checkpoint_layout(); update it";
}

TEST(FuzzSeeds, RealFilesOfTheSeedShapesReadBack) {
  TempDir dir;
  write_seeds(dir.path());
  Gpt2 model(tiny_config(), torch::kCPU);
  EXPECT_NO_THROW(load_model_from_checkpoint(dir.path() / "checkpoint" / "tiny.h5", model));
  EXPECT_NO_THROW(load_hf_safetensors(dir.path() / "safetensors" / "tiny.safetensors", model));
  EXPECT_NE(summarize_attention_file(dir.path() / "attention" / "tiny.h5").find("2 windows"),
            std::string::npos);
  if (const char* out = std::getenv("LOCSWEEP_FUZZ_SEED_DIR"); out != nullptr && *out != '\0')
    write_seeds(out);
}

TEST(FuzzSeeds, TheCommittedSeedsAreValidFilesOfTheCurrentFormats) {
  Gpt2 model(tiny_config(), torch::kCPU);
  EXPECT_NO_THROW(load_model_from_checkpoint(kCorpus / "checkpoint" / "tiny.h5", model));
  EXPECT_NO_THROW(load_hf_safetensors(kCorpus / "safetensors" / "tiny.safetensors", model));
  EXPECT_NO_THROW(summarize_attention_file(kCorpus / "attention" / "tiny.h5"));
  const auto tokens =
      decode_token_cache(testing::read_bytes(kCorpus / "token_cache" / "tiny.tokens"), kTokenKey);
  EXPECT_TRUE(std::holds_alternative<std::vector<int32_t>>(tokens));
}

}  // namespace
}  // namespace locsweep
