// Hydra-style key=value overrides (sweeps/overrides.hpp): where they land in the YAML tree,
// that they change the trials' hashes and the stored spec, and that their errors name them.
#include "sweeps/overrides.hpp"

#include <gtest/gtest.h>

#include <set>

#include "common/error.hpp"
#include "sweeps/plan.hpp"

namespace locsweep {
namespace {

const std::string kSource = LOCSWEEP_SOURCE_DIR;

const std::string kSweep =
    "name: o\n"
    "train: {steps: 10, lr: 3.0e-4}\n"
    "locality: {mechanism: block}\n"
    "grid:\n"
    "  locality.schedule: [linear, quintic]\n"
    "seeds: {start: 0, count: 2}\n";

SweepSpec with(const std::vector<std::string>& overrides, const std::string& yaml = kSweep) {
  return parse_sweep_with_overrides(yaml, "<test>", "/", overrides);
}

std::vector<std::string> hashes(const SweepSpec& spec) {
  std::vector<std::string> out;
  for (const auto& t : plan_sweep(spec).trials) out.push_back(t.hash);
  return out;
}

// The message of the InputError `f` throws ("" when it throws none).
template <class F>
std::string error_of(F f) {
  try {
    f();
  } catch (const InputError& e) {
    return e.what();
  }
  return "";
}

TEST(Overrides, ATrialKeyChangesEveryTrialAndItsHash) {
  const Plan before = plan_sweep(with({}));
  const Plan after = plan_sweep(with({"train.lr=1e-3"}));
  ASSERT_EQ(after.trials.size(), before.trials.size());
  for (size_t i = 0; i < after.trials.size(); ++i) {
    EXPECT_EQ(after.trials[i].config.train.lr, 1e-3);
    EXPECT_EQ(after.trials[i].config.train.steps, 10);  // the rest of `train` is kept
    EXPECT_NE(after.trials[i].hash, before.trials[i].hash);
  }
}

TEST(Overrides, TheSameOverrideTwiceIsTheSameAsOnce) {
  const SweepSpec once = with({"train.lr=1e-3"});
  const SweepSpec twice = with({"train.lr=1e-3", "train.lr=1e-3"});
  EXPECT_EQ(hashes(twice), hashes(once));
  EXPECT_EQ(twice.source, once.source);
}

TEST(Overrides, TheLastOfTwoValuesWins) {
  EXPECT_EQ(hashes(with({"train.lr=5e-3", "train.lr=1e-3"})), hashes(with({"train.lr=1e-3"})));
}

TEST(Overrides, AnOverrideEqualToTheFileChangesNoHash) {
  EXPECT_EQ(hashes(with({"train.lr=3.0e-4", "locality.mechanism=block"})), hashes(with({})));
}

TEST(Overrides, ReplaceAKeyWrittenDottedOrNestedAndAddAbsentOnes) {
  const std::string dotted =
      "name: d\ntrain.lr: 3.0e-4\nlocality: {mechanism: block, schedule: linear}\n";
  const SweepSpec spec = with({"train.lr=1e-3", "locality.kappa=4", "eval.every=5"}, dotted);
  EXPECT_EQ(spec.base.train.lr, 1e-3);  // no duplicate 'train.lr' key
  EXPECT_EQ(spec.base.locality.kappa, 4.0);
  EXPECT_EQ(spec.base.eval.every, 5);
  EXPECT_EQ(spec.base.locality.mechanism, Mechanism::block);
}

TEST(Overrides, SweepKeysGridAndSeeds) {
  EXPECT_EQ(plan_sweep(with({})).trials.size(), 4u);
  const Plan grid = plan_sweep(with({"grid.locality.schedule=[linear, cubic, quintic]"}));
  EXPECT_EQ(grid.trials.size(), 6u);
  EXPECT_EQ(grid.trials[2].config.locality.schedule.canonical(), "cubic");
  EXPECT_EQ(plan_sweep(with({"seeds=[0,1,2]"})).trials.size(), 6u);
  EXPECT_EQ(plan_sweep(with({"seeds.count=5"})).trials.size(), 10u);
  EXPECT_EQ(plan_sweep(with({"grid.train.lr=[1e-3,2e-3]"})).trials.size(), 8u);
  EXPECT_EQ(with({"name=other"}).name, "other");
  // An axis the file does not have: created as the sweep key's mapping.
  const Plan zip = plan_sweep(with({"zip.train.lr=[1e-3,2e-3,3e-3]", "zip.train.steps=[1,2,3]"}));
  EXPECT_EQ(zip.trials.size(), 12u);
  EXPECT_EQ(zip.trials.back().config.train.steps, 3);
  EXPECT_EQ(plan_sweep(with({"grid.locality.schedule=[cubic]", "seeds=[0]"},
                            "name: n\nlocality: {mechanism: block}\n"))
                .trials.size(),
            1u);
  EXPECT_EQ(with({"order=fifo"}).order, DispatchOrder::fifo);
}

TEST(Overrides, TheStoredSpecRecordsThemAndIsUnchangedWithout) {
  EXPECT_EQ(with({}).source, kSweep);
  const SweepSpec spec = with({"train.lr=1e-3", "seeds=[7]"});
  EXPECT_EQ(spec.source.rfind("# locsweep: \"<test>\" with the command-line overrides "
                              "[\"train.lr=1e-3\",\"seeds=[7]\"]\n",
                              0),
            0u)
      << spec.source;
  // The merged YAML reads back as the same sweep.
  EXPECT_EQ(hashes(parse_sweep(spec.source, "<stored>", "/")), hashes(spec));
}

TEST(Overrides, AnUnknownKeyNamesTheOverride) {
  EXPECT_EQ(error_of([] { with({"train.lrr=1e-3"}); }),
            "<command line: train.lrr=1e-3>: error: unknown key 'train.lrr'; did you mean "
            "'train.lr'?");
  EXPECT_NE(error_of([] {
              with({"grid.train.lrr=[1]"});
            }).find("<command line: grid.train.lrr=[1]>: error: grid key 'train.lrr' is not"),
            std::string::npos);
}

TEST(Overrides, ABadValueNamesTheOverrideThatBroughtIt) {
  const std::string message = error_of([] { with({"train.steps=20", "train.lr=abc"}); });
  EXPECT_EQ(message.rfind("<command line: train.lr=abc>: error: train.lr: ", 0), 0u) << message;
  EXPECT_NE(error_of([] { with({"seeds=[0,0]"}); }).find("<command line: seeds=[0,0]>: error: "),
            std::string::npos);
  EXPECT_NE(error_of([] {
              with({"train.lr=[1,"});
            }).find("<command line: train.lr=[1,>: error: the value is not valid YAML"),
            std::string::npos);
}

TEST(Overrides, AnExpansionProblemIsNotLocatedInTheFile) {
  const std::string message =
      error_of([] { plan_sweep(with({"model.n_embd=130"}, "name: m\nmodel: {n_head: 4}\n")); });
  EXPECT_EQ(message.rfind("<test>: error: model.n_embd: ", 0), 0u) << message;
}

TEST(Overrides, TheFilesOwnErrorIsStillLocatedInTheFile) {
  const std::string message =
      error_of([] { with({"train.lr=1e-3"}, "name: x\ntrain: {stepz: 3}\n"); });
  EXPECT_EQ(message.rfind("<test>:2:9: error: unknown key 'train.stepz'", 0), 0u) << message;
}

TEST(Overrides, ALaterOverrideMayWriteIntoAnEarlierOneWithoutChangingIt) {
  const std::vector<Override> parsed = parse_overrides({"train={steps: 3}", "train.lr=1e-3"});
  const std::string message = error_of([] {
    with({"train={steps: 3}", "train.lr=1e-3", "nope=1"});
  });
  EXPECT_EQ(message.rfind("<command line: nope=1>: error: unknown key 'nope'", 0), 0u) << message;
  const SweepSpec spec = with({"train={steps: 3}", "train.lr=1e-3"});
  EXPECT_EQ(spec.base.train.steps, 3);
  EXPECT_EQ(spec.base.train.lr, 1e-3);
  EXPECT_EQ(spec.base.train.batch_size, TrainConfig{}.batch_size);  // `train` was replaced
  EXPECT_FALSE(parsed[0].value["lr"]);
}

TEST(Overrides, WhatLooksLikeAnOverride) {
  EXPECT_TRUE(looks_like_override("train.lr=1e-3"));
  EXPECT_TRUE(looks_like_override("grid.locality.schedule=[linear,cubic]"));
  EXPECT_TRUE(looks_like_override("name="));
  EXPECT_FALSE(looks_like_override("sweeps/demo.yaml"));
  EXPECT_FALSE(looks_like_override("=1"));
  EXPECT_FALSE(looks_like_override("a..b=1"));
  EXPECT_FALSE(looks_like_override("dir/x=1.yaml"));
  EXPECT_NE(error_of([] {
              parse_override("sweep.yaml");
            }).find("'sweep.yaml' is not a KEY=VALUE override"),
            std::string::npos);
}

TEST(Overrides, ATrialConfigTakesThemToo) {
  const std::string file = kSource + "/sweeps/trial-tiny.yaml";
  const TrialConfig plain = load_trial_config(file);
  const TrialConfig config =
      load_trial_config_with_overrides(file, {"train.steps=5", "locality.schedule=linear"});
  EXPECT_EQ(config.train.steps, 5);
  EXPECT_EQ(config.locality.schedule.canonical(), "linear");
  EXPECT_EQ(config.model.n_layer, plain.model.n_layer);
  EXPECT_NE(trial_hash(config), trial_hash(plain));
  EXPECT_EQ(error_of([&] {
              load_trial_config_with_overrides(file, {"seeds=[0,1]"});
            }).rfind("<command line: seeds=[0,1]>: error: 'seeds' belongs in a sweep spec", 0),
            0u);
}

}  // namespace
}  // namespace locsweep
