// The Hugging Face export folder (worker/model_io.hpp): config.json and model.safetensors as
// transformers' GPT2LMHeadModel.from_pretrained reads them, checked by an independent reader
// (tests/worker/hf_export_check.py: standard-library JSON and safetensors header parsing, and
// transformers itself where it is installed).
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "support/python.hpp"
#include "worker/model_io.hpp"
#include "worker_test_support.hpp"

namespace locsweep {
namespace {

const std::string kCheck = std::string(LOCSWEEP_SOURCE_DIR) + "/tests/worker/hf_export_check.py";

constexpr GptConfig kModel{
    .n_layer = 3, .n_head = 2, .n_embd = 16, .block_size = 24, .vocab_size = 50257};

TEST(HfExport, FolderHasConfigThatAgreesWithTheWeights) {
  testing::TempDir dir;
  Gpt2 model(kModel, torch::kCPU);
  model.init_weights(7);
  const auto weights =
      export_hf_model(dir.path(), model, {{"trial_hash", "abc"}, {"locality", "block"}});
  EXPECT_EQ(weights, dir / "model.safetensors");
  const auto config = nlohmann::json::parse(testing::read_bytes(dir / "config.json"));
  EXPECT_EQ(config.at("n_layer"), 3);
  EXPECT_EQ(config.at("n_positions"), 24);
  EXPECT_EQ(config.at("eos_token_id"), 50256);
  EXPECT_EQ(config.at("locsweep").at("trial_hash"), "abc");

  const auto ok = test_support::run_python({kCheck, dir.path().string()});
  EXPECT_TRUE(ok.ok()) << ok.out << ok.err;

  // The checker is not blind: a config.json that disagrees with the weights fails it.
  auto wrong = config;
  wrong["n_layer"] = 4;
  testing::write_text(dir / "config.json", wrong.dump());
  const auto bad = test_support::run_python({kCheck, dir.path().string()});
  EXPECT_FALSE(bad.ok());
  EXPECT_NE(bad.out.find("names differ"), std::string::npos) << bad.out;
}

// A byte-vocabulary model has no <|endoftext|>: no begin/end token ids out of its range.
TEST(HfExport, ByteVocabularyHasNoEndOfTextToken) {
  GptConfig bytes = kModel;
  bytes.vocab_size = 256;
  const auto config = hf_gpt2_config(bytes, nlohmann::json::object());
  EXPECT_TRUE(config.at("bos_token_id").is_null());
  EXPECT_EQ(config.at("vocab_size"), 256);
  EXPECT_NE(config.at("locsweep").at("note").get<std::string>().find("locality bias"),
            std::string::npos);
}

}  // namespace
}  // namespace locsweep
