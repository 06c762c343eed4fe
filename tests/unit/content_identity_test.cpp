// Trial identity by content (sweeps/content_identity.hpp): different data -> different trials,
// the same data moved -> the same trial, edited data -> another trial and the change named;
// the digest cache (reused, invalidated by an edit, a damaged file ignored); hf: names resolved
// in a Hugging Face cache tree (data/init_weights.hpp); the trial's start-up check; databases
// recorded before identity by content.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <utime.h>

#include <filesystem>
#include <fstream>

#include "common/error.hpp"
#include "common/files.hpp"
#include "common/sha256.hpp"
#include "data/init_weights.hpp"
#include "results/schema.hpp"
#include "results/store.hpp"
#include "support/temp_dir.hpp"
#include "sweeps/content_identity.hpp"
#include "sweeps/plan.hpp"
#include "sweeps/sweep_spec.hpp"

namespace locsweep {
namespace {
namespace fs = std::filesystem;
using test_support::ScopedEnv;
using test_support::TempDir;

void write(const fs::path& path, const std::string& text) {
  fs::create_directories(path.parent_path());
  std::ofstream(path, std::ios::binary) << text;
}

// Sets a file's mtime (an edit of the same size within one clock tick would keep the cache key).
void set_mtime(const fs::path& path, long seconds) {
  struct utimbuf times {
    seconds, seconds
  };
  ASSERT_EQ(::utime(path.c_str(), &times), 0);
}

constexpr char kSweep[] =
    "name: s\nmodel: {n_layer: 1, n_head: 1, n_embd: 8, block_size: 8}\n"
    "data: {corpus: c.txt, tokenizer: bytes}\ngrid:\n  locality.schedule: [distributed, "
    "localist]\n";

// A sweep in `dir` (its corpus c.txt holding `text`), planned by content.
Plan plan_in(const fs::path& dir, const std::string& text, const std::string& yaml = kSweep) {
  write(dir / "c.txt", text);
  write(dir / "s.yaml", yaml);
  return plan_sweep(load_sweep((dir / "s.yaml").string()));
}

class ContentIdentity : public testing::Test {
 protected:
  TempDir data_;  // the digest cache lives in data_dir()
  ScopedEnv env_{"LOCSWEEP_DATA", data_.path().string()};
  TempDir a_, b_;
};

TEST_F(ContentIdentity, DifferentDataInTheSamePathIsADifferentTrial) {
  const Plan one = plan_in(a_.path(), "one text");
  const Plan two = plan_in(b_.path(), "another text");
  ASSERT_EQ(one.trials.size(), 2u);
  EXPECT_NE(one.trials[0].hash, two.trials[0].hash);
  EXPECT_EQ(one.trials[0].config.inputs.corpus, "sha256:" + sha256_hex("one text"));
  EXPECT_EQ(one.trials[0].config.inputs.tokenizer, "bytes");
  EXPECT_EQ(one.trials[0].config.inputs.init, "") << "scratch reads no weights";
}

TEST_F(ContentIdentity, TheSameDataMovedIsTheSameTrial) {
  const Plan here = plan_in(a_.path(), "the same text\n");
  // Elsewhere, as a folder of one file with the same text (trailing line breaks dropped).
  write(b_ / "corpus" / "part.txt", "the same text");
  write(b_ / "s.yaml", std::string(kSweep).replace(std::string(kSweep).find("c.txt"), 5, "corpus"));
  const Plan there = plan_sweep(load_sweep((b_ / "s.yaml").string()));
  ASSERT_EQ(here.trials.size(), there.trials.size());
  for (size_t i = 0; i < here.trials.size(); ++i)
    EXPECT_EQ(here.trials[i].hash, there.trials[i].hash);
}

TEST_F(ContentIdentity, EditedDataIsReplannedAndTheChangeIsNamed) {
  const Plan before = plan_in(a_.path(), "first version");
  const Plan after = plan_in(a_.path(), "second version, longer");
  EXPECT_NE(before.trials[0].hash, after.trials[0].hash);

  std::vector<TrialConfig> recorded;
  for (const auto& t : before.trials) recorded.push_back(t.config);
  std::vector<const TrialConfig*> planned_new;
  for (const auto& t : after.trials) planned_new.push_back(&t.config);
  const auto changes = changed_inputs(recorded, planned_new);
  ASSERT_EQ(changes.size(), 1u);
  EXPECT_EQ(changes[0].key, "data.corpus");
  EXPECT_EQ(changes[0].trials, 2u);
  const std::string old_hex = sha256_hex("first version"),
                    new_hex = sha256_hex("second version, longer");
  EXPECT_EQ(changes[0].text(), "data.corpus 'c.txt' changed since the DB's trials (sha256 " +
                                   old_hex.substr(0, 8) + "… → sha256 " + new_hex.substr(0, 8) +
                                   "…): 2 trials will run again");
  EXPECT_TRUE(changed_inputs(recorded, {}).empty()) << "nothing new: nothing to report";
}

TEST_F(ContentIdentity, EachDistinctInputIsResolvedOnce) {
  write(a_ / "c.txt", "shared text");
  write(a_ / "d.txt", "other text");
  DigestCache cache(data_ / "fresh.json");
  InputResolver inputs(cache);
  TrialConfig config;
  config.data.tokenizer = "bytes";
  config.spec_dir = a_.path().string();
  for (const char* corpus : {"c.txt", "c.txt", "d.txt", "c.txt"}) {
    config.data.corpus = corpus;
    ASSERT_FALSE(inputs.fill(config));
  }
  EXPECT_EQ(cache.computed(), 2u) << "c.txt read once for three trials, d.txt once";
  EXPECT_EQ(config.inputs.corpus, "sha256:" + sha256_hex("shared text"));
}

TEST_F(ContentIdentity, AMissingCorpusIsAPlanErrorAtTheKey) {
  write(a_ / "s.yaml", kSweep);
  try {
    plan_sweep(load_sweep((a_ / "s.yaml").string()));
    FAIL() << "planned a sweep whose corpus is missing";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("s.yaml:3:"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("data.corpus: corpus 'c.txt': no such file"),
              std::string::npos)
        << e.what();
  }
  // As written, nothing is read (fuzzers, expansion tests).
  EXPECT_EQ(
      plan_sweep(load_sweep((a_ / "s.yaml").string()), InputIdentity::as_written).trials.size(),
      2u);
}

TEST_F(ContentIdentity, TheDigestCacheIsReusedAndAnEditIsSeen) {
  write(a_ / "w.bin", "weights v1");
  {
    DigestCache cache(DigestCache::default_file());
    EXPECT_EQ(cache.file_digest(a_ / "w.bin"), "sha256:" + sha256_hex("weights v1"));
    EXPECT_EQ(cache.computed(), 1u);
    cache.save();
  }
  {
    DigestCache cache(DigestCache::default_file());
    EXPECT_EQ(cache.file_digest(a_ / "w.bin"), "sha256:" + sha256_hex("weights v1"));
    EXPECT_EQ(cache.computed(), 0u) << "taken from the saved cache, not read again";
  }
  write(a_ / "w.bin", "weights v2");  // same size: the mtime tells it apart
  set_mtime(a_ / "w.bin", 1000000000);
  DigestCache cache(DigestCache::default_file());
  EXPECT_EQ(cache.file_digest(a_ / "w.bin"), "sha256:" + sha256_hex("weights v2"));
  EXPECT_EQ(cache.computed(), 1u);
}

TEST_F(ContentIdentity, ADamagedCacheFileIsIgnoredNeverTrusted) {
  write(a_ / "w.bin", "weights");
  const auto key_of = [&] {
    struct stat st {};
    ::stat((a_ / "w.bin").c_str(), &st);
    return fs::absolute(a_ / "w.bin").lexically_normal().string() + "\n" +
           std::to_string(st.st_size) + "\n" +
           std::to_string(static_cast<long long>(st.st_mtim.tv_sec) * 1000000000LL +
                          st.st_mtim.tv_nsec);
  };
  const std::string wrong = "sha256:" + std::string(64, 'a');
  // A well-formed entry with a wrong digest is what a tampered cache would hold; a damaged
  // file (truncated JSON, a bad value) is ignored as a whole.
  for (const std::string& text :
       {std::string("{\"format\": \"locsweep-digests\", \"version\": 1, \"entr"),
        "{\"format\": \"locsweep-digests\", \"version\": 1, \"entries\": {\"" + key_of() +
            "\": \"sha256:12\"}}",
        std::string("[1, 2, 3]")}) {
    std::string escaped = text;
    for (size_t p = 0; (p = escaped.find('\n', p)) != std::string::npos; p += 2)
      escaped.replace(p, 1, "\\n");
    write(DigestCache::default_file(), escaped);
    DigestCache cache(DigestCache::default_file());
    EXPECT_EQ(cache.file_digest(a_ / "w.bin"), "sha256:" + sha256_hex("weights")) << text;
    EXPECT_EQ(cache.computed(), 1u) << text;
    cache.save();
    EXPECT_NO_THROW(nlohmann::json::parse(read_file(DigestCache::default_file())))
        << "rewritten whole";
  }
}

// --- hf: names -----------------------------------------------------------------------------

class HfNames : public testing::Test {
 protected:
  TempDir hub_;
  ScopedEnv hub_env_{"HF_HUB_CACHE", hub_.path().string()};
  // A snapshot of `repo_folder` at `revision`, its model.safetensors holding `text`.
  fs::path snapshot(const std::string& repo_folder, const std::string& revision,
                    const std::string& text, long mtime) {
    const fs::path dir = hub_ / repo_folder / "snapshots" / revision;
    write(dir / "model.safetensors", text);
    struct utimbuf times {
      mtime, mtime
    };
    ::utime(dir.c_str(), &times);
    return dir / "model.safetensors";
  }
};

TEST_F(HfNames, ARepoIdIsTheNewestSnapshotOfTheHubCache) {
  snapshot("models--gpt2", "aaa", "old", 1000);
  const fs::path newest = snapshot("models--gpt2", "bbb", "new", 2000);
  EXPECT_EQ(init_weights_file("hf:gpt2", "/elsewhere"), newest);
  const fs::path owned = snapshot("models--openai-community--gpt2", "ccc", "x", 1000);
  EXPECT_EQ(init_weights_file("hf:openai-community/gpt2", "/elsewhere"), owned);
}

TEST_F(HfNames, RefsMainWinsOverTheNewestSnapshot) {
  const fs::path main = snapshot("models--gpt2", "aaa", "main", 1000);
  snapshot("models--gpt2", "bbb", "newer", 2000);
  write(hub_ / "models--gpt2" / "refs" / "main", "aaa\n");
  EXPECT_EQ(init_weights_file("hf:gpt2", "/"), main);
}

TEST_F(HfNames, TheHubCacheFollowsHuggingFacesRules) {
  {
    ScopedEnv home("HF_HOME", "/hf/home");
    EXPECT_EQ(hf_hub_cache(), hub_.path()) << "HF_HUB_CACHE first";
  }
  ScopedEnv no_hub("HF_HUB_CACHE", std::nullopt);
  ScopedEnv no_old("HUGGINGFACE_HUB_CACHE", std::nullopt);
  {
    ScopedEnv home("HF_HOME", "/hf/home");
    EXPECT_EQ(hf_hub_cache(), fs::path("/hf/home/hub"));
  }
  ScopedEnv no_home("HF_HOME", std::nullopt);
  ScopedEnv no_xdg("XDG_CACHE_HOME", std::nullopt);
  ScopedEnv user("HOME", "/home/u");
  EXPECT_EQ(hf_hub_cache(), fs::path("/home/u/.cache/huggingface/hub"));
}

TEST_F(HfNames, APathStillWorks) {
  EXPECT_EQ(init_weights_file("hf:w/model.safetensors", "/spec"),
            fs::path("/spec/w/model.safetensors"));
  EXPECT_EQ(init_weights_file("hf:/abs/model.safetensors", "/spec"),
            fs::path("/abs/model.safetensors"));
  write(hub_ / "weights.bin", "x");  // an existing file is a path, whatever its name
  EXPECT_EQ(init_weights_file("hf:weights.bin", hub_.path()), hub_ / "weights.bin");
  EXPECT_EQ(init_weights_file("checkpoint:c.h5", "/spec"), fs::path("/spec/c.h5"));
  EXPECT_EQ(init_weights_file("scratch", "/spec"), fs::path());
}

TEST_F(HfNames, AMissingSnapshotSaysWhereItLookedAndHowToFixIt) {
  try {
    init_weights_file("hf:gpt2", "/");
    FAIL() << "resolved a snapshot that is not there";
  } catch (const InputError& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find((hub_ / "models--gpt2" / "snapshots").string()), std::string::npos) << what;
    EXPECT_NE(what.find("huggingface-cli download gpt2"), std::string::npos) << what;
  }
}

TEST_F(HfNames, TheInitWeightsEnterTheIdentityByContent) {
  TempDir data;
  ScopedEnv env("LOCSWEEP_DATA", data.path().string());
  TempDir dir;
  std::string spec = kSweep;
  spec.replace(spec.find("block_size: 8}"), 14, "block_size: 8, init: 'hf:gpt2'}");
  snapshot("models--gpt2", "aaa", "weights one", 1000);
  const Plan one = plan_in(dir.path(), "text", spec);
  EXPECT_EQ(one.trials[0].config.inputs.init, "sha256:" + sha256_hex("weights one"));
  snapshot("models--gpt2", "bbb", "weights two", 2000);
  const Plan two = plan_in(dir.path(), "text", spec);
  EXPECT_NE(one.trials[0].hash, two.trials[0].hash) << "a newer snapshot is another init";
}

// --- the trial's start-up check ------------------------------------------------------------

TEST_F(ContentIdentity, ATrialRefusesInputsEditedSincePlanning) {
  write(a_ / "w.safetensors", "weights");
  std::string spec = kSweep;
  spec.replace(spec.find("block_size: 8}"), 14, "block_size: 8, init: 'hf:w.safetensors'}");
  const Plan plan = plan_in(a_.path(), "planned text", spec);
  const TrialConfig& c = plan.trials[0].config;
  EXPECT_NO_THROW(check_planned_inputs(c, "planned text", "bytes"));
  try {
    check_planned_inputs(c, "edited text", "bytes");
    FAIL() << "trained on edited data under the planned identity";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("data.corpus 'c.txt' changed since the sweep was planned"),
              std::string::npos)
        << e.what();
  }
  EXPECT_THROW(check_planned_inputs(c, "planned text", "gpt2-bpe-v1:00"), InputError);
  write(a_ / "w.safetensors", "other weights");
  set_mtime(a_ / "w.safetensors", 1000000000);
  try {
    check_planned_inputs(c, "planned text", "bytes");
    FAIL() << "loaded edited weights under the planned identity";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("model.init 'hf:w.safetensors' changed"),
              std::string::npos)
        << e.what();
  }
  TrialConfig by_hand = c;
  by_hand.inputs = {};
  EXPECT_NO_THROW(check_planned_inputs(by_hand, "anything", "bytes"))
      << "a config the planner did not fill is not checked";
}

TEST_F(ContentIdentity, InputsTravelThroughTheTrialConfigJson) {
  const Plan plan = plan_in(a_.path(), "text");
  const TrialConfig back = trial_config_from_json(to_json(plan.trials[0].config));
  EXPECT_EQ(back.inputs, plan.trials[0].config.inputs);
  EXPECT_EQ(trial_hash(back), plan.trials[0].hash);
  nlohmann::json bad = to_json(plan.trials[0].config);
  bad["inputs"]["corpse"] = "x";
  EXPECT_THROW(trial_config_from_json(bad), InputError);
}

// --- databases recorded before identity by content ------------------------------------------

TEST_F(ContentIdentity, ADatabaseOfPathIdentifiedTrialsIsNotReusedSilently) {
  const std::string db = (a_ / "r.sqlite").string();
  const SweepSpec spec = [&] {
    write(a_ / "c.txt", "text");
    write(a_ / "s.yaml", kSweep);
    return load_sweep((a_ / "s.yaml").string());
  }();
  {  // A version-2 database: the same sweep recorded with path identity (no inputs).
    const Plan old = plan_sweep(spec, InputIdentity::as_written);
    ResultsStore store = ResultsStore::open_for_writing(db);
    store.sync_sweep(spec, old, (a_ / "art").string(), false);
    store.db().exec(
        "UPDATE trials SET config_json = json_remove(config_json, '$.inputs'); UPDATE meta SET "
        "value = '2' WHERE key = 'schema_version'");
  }
  ResultsStore store = ResultsStore::open_for_writing(db);
  EXPECT_EQ(schema_version(store.db()), kSchemaVersion) << "upgraded in place";
  const Plan plan = plan_sweep(spec);
  try {
    store.sync_sweep(spec, plan, (a_ / "art").string(), false);
    FAIL() << "a plan by content was recorded over path-identified trials without a word";
  } catch (const InputError& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find("2 of its 2 trials identified by path"), std::string::npos) << what;
    EXPECT_NE(what.find("--allow-spec-change"), std::string::npos) << what;
  }
  const auto synced = store.sync_sweep(spec, plan, (a_ / "art").string(), true);
  EXPECT_EQ(synced.new_trials, 2u) << "every trial runs again";
}

}  // namespace
}  // namespace locsweep
