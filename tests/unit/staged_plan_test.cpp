// Staged sweeps in the planner (sweeps/plan.hpp): `bases:` and `model.init: base:<name>`.
// A base is a trial of its own, planned before its dependents; its seed follows theirs
// unless it sets one; the dependents' identity includes its hash; shapes must fit; unknown
// bases and cycles are errors at the key that names them.
#include <gtest/gtest.h>

#include <set>

#include "sweeps/plan.hpp"
#include "sweeps/spec_error.hpp"

namespace locsweep {
namespace {

Plan plan_text(const std::string& yaml) {
  return plan_sweep(parse_sweep(yaml, "<test>", "/"));
}

// A small staged sweep: `bases` is the bases block (YAML flow), `extra` more top-level keys.
std::string staged(const std::string& bases, const std::string& extra = "") {
  return "name: s\n"
         "model: {n_layer: 2, n_head: 2, n_embd: 32, block_size: 16, init: 'base:pre'}\n"
         "data: {corpus: moby-dick, tokenizer: bytes}\n"
         "bases: " +
         bases + "\n" + extra;
}

const PlannedTrial* find(const Plan& plan, const std::string& hash) {
  for (const auto& t : plan.trials)
    if (t.hash == hash) return &t;
  return nullptr;
}

// The SpecError that planning `yaml` throws (fails the test when none is thrown).
SpecError plan_error(const std::string& yaml) {
  try {
    plan_text(yaml);
  } catch (const SpecError& e) {
    return e;
  }
  ADD_FAILURE() << "no SpecError for:\n" << yaml;
  return SpecError("", YAML::Mark::null_mark(), "");
}

TEST(StagedPlan, EachSeedGetsItsOwnBaseListedFirst) {
  const Plan plan = plan_text(staged(
      "{pre: {data: {corpus: sotu}, train: {steps: 30}}}",
      "grid: {locality.schedule: [distributed, localist], train.steps: [0, 5]}\nseeds: [0, 1]\n"));
  // 2 bases (one per seed) + 2 x 2 x 2 dependents.
  ASSERT_EQ(plan.trials.size(), 10u);
  for (int seed : {0, 1}) {
    const PlannedTrial& base = plan.trials[static_cast<size_t>(seed)];
    EXPECT_EQ(base.label, "base pre seed=" + std::to_string(seed));
    EXPECT_EQ(base.config.seed, seed);
    EXPECT_EQ(base.config.data.corpus, "sotu");
    EXPECT_EQ(base.config.train.steps, 30);
    EXPECT_EQ(base.config.model.init, "scratch") << "a base starts from scratch unless it says";
    EXPECT_TRUE(base.base.empty());
  }
  for (size_t i = 2; i < plan.trials.size(); ++i) {
    const PlannedTrial& t = plan.trials[i];
    const PlannedTrial* base = find(plan, t.base);
    ASSERT_NE(base, nullptr) << t.label;
    EXPECT_EQ(base->config.seed, t.config.seed) << "the base's seed follows the trial's";
    EXPECT_EQ(t.config.inputs.init, "trial:" + base->hash);
    EXPECT_EQ(t.config.data.corpus, "moby-dick") << "the base block applies to the base only";
  }
}

TEST(StagedPlan, ABaseWithItsOwnSeedServesEverySeed) {
  const Plan plan =
      plan_text(staged("{pre: {seed: 3}}", "grid: {train.steps: [0, 5]}\nseeds: [0, 1, 2]\n"));
  ASSERT_EQ(plan.trials.size(), 7u);
  EXPECT_EQ(plan.trials[0].label, "base pre seed=3");
  for (size_t i = 1; i < plan.trials.size(); ++i)
    EXPECT_EQ(plan.trials[i].base, plan.trials[0].hash);
}

TEST(StagedPlan, TheBasesHashIsPartOfTheDependentsIdentity) {
  const auto dependent_hash = [](const std::string& base_block) {
    const Plan plan = plan_text(staged(base_block));
    EXPECT_EQ(plan.trials.size(), 2u);
    return plan.trials.back().hash;
  };
  // The dependents' own keys are identical; only their base differs.
  EXPECT_NE(dependent_hash("{pre: {train: {steps: 30}}}"),
            dependent_hash("{pre: {train: {steps: 31}}}"));
  EXPECT_EQ(dependent_hash("{pre: {train: {steps: 30}}}"),
            dependent_hash("{pre: {train: {steps: 30}, execution: {timeout_s: 9}}}"))
      << "an unhashed key of the base leaves both identities alone";
}

TEST(StagedPlan, TheSameBaseInTwoSweepsIsOneTrial) {
  const Plan a = plan_text(staged("{pre: {data: {corpus: sotu}}}", "grid: {train.steps: [0]}\n"));
  const Plan b =
      plan_text("name: other\n" +
                staged("{pre: {data: {corpus: sotu}}}", "grid: {train.steps: [0, 7]}\n").substr(8));
  EXPECT_EQ(a.trials[0].hash, b.trials[0].hash);
  EXPECT_EQ(a.trials[1].hash, b.trials[1].hash);
}

TEST(StagedPlan, ChainsPlanTheInnerBaseFirst) {
  const Plan plan =
      plan_text(staged("{pre: {model: {init: 'base:raw'}, data: {corpus: sotu}}, raw: {}}"));
  ASSERT_EQ(plan.trials.size(), 3u);
  EXPECT_EQ(plan.trials[0].label, "base raw seed=0");
  EXPECT_EQ(plan.trials[1].label, "base pre seed=0");
  EXPECT_EQ(plan.trials[1].base, plan.trials[0].hash);
  EXPECT_EQ(plan.trials[2].base, plan.trials[1].hash);
}

TEST(StagedPlan, AnUnusedBaseIsNotPlanned) {
  const Plan plan = plan_text(staged("{pre: {}, spare: {data: {corpus: sotu}}}"));
  EXPECT_EQ(plan.trials.size(), 2u);
}

struct ErrorCase {
  const char* name;
  std::string yaml;
  int line;
  const char* says;
};

class StagedPlanErrors : public testing::TestWithParam<ErrorCase> {};

TEST_P(StagedPlanErrors, AtTheKeyWithAMessage) {
  const ErrorCase& c = GetParam();
  const SpecError e = plan_error(c.yaml);
  EXPECT_EQ(e.line(), c.line) << e.what();
  EXPECT_NE(std::string(e.what()).find(c.says), std::string::npos) << e.what();
}

INSTANTIATE_TEST_SUITE_P(
    Table, StagedPlanErrors,
    testing::Values(
        ErrorCase{"unknown_base", staged("{other: {}}"), 2, "no base named 'pre'"},
        ErrorCase{"base_without_bases", "name: s\nmodel: {init: 'base:pre'}\n", 2,
                  "only a sweep that defines it"},
        ErrorCase{"shape_set_by_the_base", staged("\n  pre:\n    model: {n_embd: 64}\n"), 6,
                  "model.n_embd differs from base 'pre' (64 in the base, 32 here)"},
        ErrorCase{"shape_set_by_an_axis", staged("{pre: {}}", "grid:\n  model.n_layer: [2, 3]\n"),
                  6, "model.n_layer differs from base 'pre' (2 in the base, 3 here)"},
        ErrorCase{"vocabulary", staged("{pre: {data: {tokenizer: gpt2}}}"), 2,
                  "model.vocab_size differs"},
        ErrorCase{"cycle",
                  staged("\n  pre:\n    model: {init: 'base:mid'}\n  mid:\n"
                         "    model: {init: 'base:pre'}\n"),
                  8, "a cycle (pre -> mid -> pre)"},
        ErrorCase{"self", staged("\n  pre:\n    model: {init: 'base:pre'}\n"), 6,
                  "a cycle (pre -> pre)"},
        ErrorCase{"base_names_unknown_base", staged("\n  pre:\n    model: {init: 'base:x'}\n"), 6,
                  "base 'pre': model.init: no base named 'x'"},
        ErrorCase{"bases_not_a_map", staged("[pre]"), 4, "bases must be a mapping"},
        ErrorCase{"bad_base_name", staged("{'pre base': {}}"), 4, "base name 'pre base'"},
        ErrorCase{"axis_in_a_base", staged("\n  pre:\n    grid: {train.lr: [1]}\n"), 6,
                  "'grid' cannot be set in a base"},
        ErrorCase{"unknown_key_in_a_base", staged("\n  pre:\n    train: {stpes: 3}\n"), 6,
                  "stpes"}),
    [](const auto& info) { return std::string(info.param.name); });

}  // namespace
}  // namespace locsweep
