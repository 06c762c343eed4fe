// Canonical hashing: equal trials hash equally however they are spelled; different trials
// do not; the JSON form round-trips.
#include <gtest/gtest.h>

#include <fstream>

#include <nlohmann/json.hpp>

#include "common/error.hpp"
#include "sweeps/config_fields.hpp"
#include "sweeps/sweep_spec.hpp"
#include "sweeps/trial_config.hpp"

namespace locsweep {
namespace {

std::string hash_of(const std::string& yaml) {
  return trial_hash(parse_trial_config(yaml, "<test>", "/"));
}

class SameTrial : public testing::TestWithParam<std::pair<const char*, const char*>> {};

TEST_P(SameTrial, HashesEqually) {
  EXPECT_EQ(hash_of(GetParam().first), hash_of(GetParam().second))
      << GetParam().first << "  vs  " << GetParam().second;
}

INSTANTIATE_TEST_SUITE_P(
    Table, SameTrial,
    testing::Values(
        std::pair{"locality: {schedule: quintic}", "locality: {schedule: 'poly:5'}"},
        std::pair{"locality: {schedule: {type: polynomial, beta: 5}}",
                  "locality: {schedule: quintic}"},
        std::pair{"locality: {schedule: {type: polynomial, beta: 5.0}}",
                  "locality: {schedule: quintic}"},
        std::pair{
            "locality: {schedule: {type: polynomial, beta: 5, lambda_min: 0, lambda_max: 1.0}}",
            "locality: {schedule: quintic}"},
        std::pair{"train: {lr: 0.0006}", "train: {lr: 6e-4}"},
        std::pair{"train: {lr: 6.0e-4}", "{}"},  // the default, written out
        std::pair{"model: {n_layer: 6}", "model: {n_layer: 6, vocab_size: 50257}"},
        // Parameters of mechanisms that are not active do not matter.
        std::pair{"locality: {mechanism: block, schedule: linear, sigma: 99}",
                  "locality: {mechanism: block, schedule: linear}"},
        std::pair{"locality: {mechanism: window, schedule: linear, kappa: 1}",
                  "locality: {mechanism: window, schedule: linear}"},
        // lambda = 0 everywhere is plain GPT-2 for every mechanism.
        std::pair{"locality: {mechanism: window, schedule: distributed}",
                  "locality: {mechanism: mask, schedule: uniform:0}"},
        std::pair{"locality: {mechanism: block, schedule: '[0,0,0,0,0,0]'}",
                  "locality: {mechanism: none, schedule: quintic}"},
        // A constant list is a uniform schedule.
        std::pair{"locality: {schedule: '[1,1,1,1,1,1]'}", "locality: {schedule: localist}"},
        std::pair{"locality: {schedule: 'poly:3:0.5:0.5'}", "locality: {schedule: 'uniform:0.5'}"},
        // Execution and recording settings do not change the result.
        std::pair{"execution: {timeout_s: 60, max_retries: 5}", "{}"},
        std::pair{"record: {attention_windows: 9}", "eval: {every: 7}"}));

class DifferentTrial : public testing::TestWithParam<std::pair<const char*, const char*>> {};

TEST_P(DifferentTrial, HashesDifferently) {
  EXPECT_NE(hash_of(GetParam().first), hash_of(GetParam().second))
      << GetParam().first << "  vs  " << GetParam().second;
}

INSTANTIATE_TEST_SUITE_P(
    Table, DifferentTrial,
    testing::Values(
        std::pair{"locality: {schedule: quintic}", "locality: {schedule: quartic}"},
        std::pair{"locality: {schedule: quintic}", "locality: {schedule: 'poly:5.0001'}"},
        std::pair{"locality: {schedule: linear}", "locality: {schedule: reverse:linear}"},
        std::pair{"seed: 0", "seed: 1"}, std::pair{"train: {lr: 1e-3}", "train: {lr: 2e-3}"},
        std::pair{"locality: {mechanism: block, schedule: linear}",
                  "locality: {mechanism: mask, schedule: linear}"},
        std::pair{"locality: {mechanism: block, schedule: linear, kappa: 4}",
                  "locality: {mechanism: block, schedule: linear}"},
        std::pair{"locality: {schedule: linear, blocks: 'fixed:8'}",
                  "locality: {schedule: linear, blocks: 'fixed:16'}"},
        std::pair{"data: {corpus: sotu}", "data: {corpus: moby-dick}"}));

TEST(TrialConfig, HashIsStableAcrossReleases) {
  // Changing this value re-runs every stored trial: only ever on purpose, with a DB migration.
  EXPECT_EQ(hash_of("{}").substr(0, 16), "a4e60387051d9d1a")
      << "canonical JSON: " << canonical_json(parse_trial_config("{}", "<t>", "/")).dump();
}

TEST(TrialConfig, JsonRoundTripKeepsEveryField) {
  const TrialConfig a = parse_trial_config(
      "seed: 7\nmodel: {n_layer: 3, n_head: 2, n_embd: 32, dropout: 0.1, init: "
      "'hf:/x.safetensors'}\n"
      "locality: {mechanism: penalty, schedule: 'reverse:poly:2.5:0.1:0.9', blocks: "
      "'adaptive:0.75'}\n"
      "execution: {timeout_s: 12.5}\nrecord: {export_safetensors: true}\n",
      "<t>", "/spec/dir");
  const TrialConfig b = trial_config_from_json(to_json(a));
  EXPECT_EQ(to_json(a), to_json(b));
  EXPECT_EQ(trial_hash(a), trial_hash(b));
  EXPECT_EQ(b.spec_dir, "/spec/dir");
  EXPECT_EQ(b.locality.schedule.canonical(), "reverse:poly:2.5:0.1:0.9");
  EXPECT_EQ(b.execution.timeout_s, 12.5);
}

TEST(TrialConfig, LabelNamesMechanismScheduleAndSeed) {
  EXPECT_EQ(trial_label(parse_trial_config(
                "seed: 2\nlocality: {mechanism: mask, schedule: 'poly:5'}", "<t>", "/")),
            "mask quintic seed=2");
  EXPECT_EQ(trial_label(parse_trial_config("locality: {mechanism: mask, schedule: distributed}",
                                           "<t>", "/")),
            "none distributed seed=0");
}

TEST(TrialConfig, NoopTrialsIgnoreModelKeys) {
  EXPECT_EQ(hash_of("kind: noop\nmodel: {n_layer: 2}"), hash_of("kind: noop"));
  EXPECT_NE(hash_of("kind: noop\nnoop: {duration_s: 1}"), hash_of("kind: noop"));
}

}  // namespace
}  // namespace locsweep

namespace locsweep {
namespace {

// docs/sweep-spec.md carries the key table `locsweep keys --markdown` prints; every key of the
// field table must be documented there, with its current default.
TEST(Docs, SweepSpecDocumentsEveryKeyWithItsDefault) {
  std::ifstream in(std::string(LOCSWEEP_SOURCE_DIR) + "/docs/sweep-spec.md");
  const std::string doc((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  ASSERT_FALSE(doc.empty());
  const TrialConfig defaults;
  for (const auto& f : trial_fields()) {
    const auto value = f.get(defaults);
    const std::string text = value.is_string() ? value.get<std::string>() : value.dump();
    const std::string row = "| `" + f.path + "` | `" + text + "` |";
    EXPECT_NE(doc.find(row), std::string::npos)
        << "regenerate docs/sweep-spec.md: missing or stale " << row;
  }
}

// The named exponents shown in docs/sweep-spec.md's schedule table are kExponentNames, in
// order; the key table's mechanism and schedule rows carry the docs derived from the tables.
TEST(Docs, SweepSpecListsTheTablesOfMechanismsAndExponents) {
  std::ifstream in(std::string(LOCSWEEP_SOURCE_DIR) + "/docs/sweep-spec.md");
  const std::string doc((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::string names;
  for (const std::string_view name : kExponentNames)
    names += (names.empty() ? "| `" : " `") + std::string(name) + "`";
  EXPECT_NE(doc.find(names + " |"), std::string::npos) << "expected the row " << names;
  for (const char* key : {"locality.mechanism", "locality.schedule"}) {
    const Field* f = find_field(key);
    ASSERT_NE(f, nullptr);
    EXPECT_NE(doc.find(" | " + f->doc + " |"), std::string::npos)
        << "regenerate docs/sweep-spec.md: " << key;
  }
}

// The mechanism list (kMechanisms) is the one the parser, its message and the key docs use.
TEST(TrialConfig, EveryMechanismOfTheTableParsesAndIsListed) {
  ASSERT_EQ(mechanism_names().size(), kMechanisms.size());
  std::string message;
  try {
    (void)mechanism_from_string("wobble");
  } catch (const InputError& e) {
    message = e.what();
  }
  const Field* field = find_field("locality.mechanism");
  ASSERT_NE(field, nullptr);
  for (Mechanism m : kMechanisms) {
    const std::string name(to_string(m));
    EXPECT_EQ(mechanism_from_string(name), m);
    EXPECT_EQ(
        parse_trial_config("locality: {mechanism: " + name + "}", "<test>", "/").locality.mechanism,
        m);
    EXPECT_NE(message.find(name), std::string::npos) << message;
    EXPECT_NE(field->doc.find(name), std::string::npos) << field->doc;
  }
  EXPECT_EQ(mechanism_choices(", "), "none, window, block, mask, penalty");
}

}  // namespace
}  // namespace locsweep
