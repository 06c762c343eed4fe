// A sweep's `search:` block (sweeps/sweep_spec.hpp) and its trials (sweeps/search_plan.hpp):
// every error is a SpecError at the key to blame; a point is the shared keys with the key at
// x, once per seed, with its own identity; a ratio objective adds the distributed baselines;
// the plan a run registers holds every point asked so far, so a rerun is accepted. Also the
// noop trial's synthetic loss (NoopLoss), which such searches are tested with.
#include <gtest/gtest.h>

#include <cmath>
#include <set>

#include "results/store.hpp"
#include "support/temp_dir.hpp"
#include "sweeps/numeric_keys.hpp"
#include "sweeps/search_plan.hpp"
#include "sweeps/spec_error.hpp"

namespace locsweep {
namespace {

using test_support::TempDir;

// A gpt2 sweep (read as written: nothing is read from disk) with `search` as its search block.
std::string gpt2_spec(const std::string& search, const std::string& extra = "") {
  return "name: s\n"
         "model: {n_layer: 4, n_head: 2, n_embd: 32, block_size: 16}\n"
         "data: {tokenizer: bytes}\n"
         "locality: {mechanism: block, schedule: quintic}\n"
         "seeds: [0, 1]\n" +
         extra + "search: " + search + "\n";
}

// A noop sweep whose trials report the synthetic loss 3 + 0.05 (beta - 7.3)^2.
std::string noop_spec(const std::string& search, const std::string& extra = "") {
  return "name: n\nkind: noop\nlocality: {schedule: quintic}\n"
         "noop: {loss: {key: locality.schedule.beta, center: 7.3, curvature: 0.05, floor: 3}}\n" +
         extra + "search: " + search + "\n";
}

SweepSpec parse(const std::string& yaml) {
  return parse_sweep(yaml, "<test>", "/");
}

struct ErrorCase {
  std::string yaml;
  int line, column;
  std::string says;
};

// Parse, then plan (as written); the SpecError either throws.
SpecError spec_error(const std::string& yaml) {
  try {
    const SweepSpec spec = parse(yaml);
    const Plan plan = plan_sweep(spec, InputIdentity::as_written);
    TrialPlanner planner(spec, InputIdentity::as_written);
    (void)plan_search_point(spec, planner, spec.search->lo);
  } catch (const SpecError& e) {
    return e;
  }
  ADD_FAILURE() << "no SpecError for:\n" << yaml;
  return SpecError("", YAML::Mark::null_mark(), "");
}

TEST(SearchSpec, ErrorsAreAtTheKeyToBlame) {
  const std::string beta = "{key: locality.schedule.beta, interval: [1, 20]";
  const std::vector<ErrorCase> cases = {
      {gpt2_spec(beta + ", budgte: 3}"), 6, 58, "unknown key 'budgte'"},
      {gpt2_spec("{key: locality.kapa, interval: [1, 20]}"), 6, 15,
       "did you mean 'locality.kappa'"},
      {gpt2_spec("{key: train.steps, interval: [1, 20]}"), 6, 15, "whole numbers only"},
      {gpt2_spec("{key: locality.mechanism, interval: [1, 20]}"), 6, 15, "is not numeric"},
      {gpt2_spec("{key: seed, interval: [1, 20]}"), 6, 15, "give the seeds in 'seeds'"},
      {gpt2_spec("{interval: [1, 20]}"), 6, 9, "search needs 'key'"},
      {gpt2_spec("{key: locality.schedule.beta, interval: [20, 1]}"), 6, 49,
       "lo must be less than hi"},
      {gpt2_spec("{key: locality.schedule.beta, interval: [0, 20]}"), 6, 50,
       "search.interval: 0: locality.schedule"},
      {gpt2_spec("{key: locality.schedule.lambda_max, interval: [0.5, 1.5]}"), 6, 61, "1.5"},
      {gpt2_spec("{key: train.lr, interval: [1e-4, x]}"), 6, 42, "hi must be a finite number"},
      {gpt2_spec(beta + ", method: newton}"), 6, 66, "brent or lipo"},
      {gpt2_spec(beta + ", budget: 0}"), 6, 66, "from 1 to 1000"},
      {gpt2_spec(beta + ", budget: 100000}"), 6, 66, "from 1 to 1000"},
      {gpt2_spec(beta + ", method: lipo, budget: 201}"), 6, 80, "from 1 to 200"},
      {gpt2_spec(beta + ", parallel: 4}"), 6, 68, "needs method: lipo"},
      {gpt2_spec(beta + ", method: lipo, tolerance: 0.1}"), 6, 83, "brent's"},
      {gpt2_spec(beta + ", tolerance: 50}"), 6, 69, "less than the interval's width 19"},
      {gpt2_spec(beta + ", objective: val_los}"), 6, 69, "unknown metric 'val_los'"},
      {gpt2_spec(beta + ", objective: mean_lambda}"), 6, 69, "{maximize: mean_lambda"},
      {gpt2_spec(beta + ", objective: {maximize: mean_lambda, subject_to: {ppl: 2}}}"), 6, 105,
       "subject_to must be {ratio: R}"},
      {gpt2_spec(beta + ", objective: {maximize: mean_lambda, subject_to: {ratio: -1}}}"), 6, 113,
       "must be > 0"},
      {gpt2_spec(beta + "}", "grid: {locality.schedule: [linear, cubic]}\n"), 6, 8,
       "varied here and searched"},
      {gpt2_spec("{key: locality.kappa, interval: [1, 2]}", "zip: {locality.kappa: [1, 2]}\n"), 6,
       7, "varied here and searched"},
      {"name: s\nlocality: {schedule: distributed}\nsearch: {key: locality.schedule.beta, "
       "interval: [1, 2]}\n",
       3, 15, "a parameter of a polynomial schedule, but the shared locality.schedule is"},
      {"name: s\nlocality: {schedule: [0, 1]}\nsearch: {key: locality.schedule.beta, interval: "
       "[1, 2]}\n",
       3, 15, "a parameter of a polynomial schedule"},
      {noop_spec("{key: locality.kappa, interval: [1, 2]}"), 5, 15, "noop.loss.key"},
      {"name: s\nkind: noop\nnoop: {loss: {key: model.n_layer}}\n", 3, 20, "whole numbers only"},
      {gpt2_spec(beta + "}", "train: {steps: 60}\nearly_stopping: {rungs: [20]}\n"), 7, 17,
       "early_stopping cannot be combined with search"},
  };
  for (const ErrorCase& c : cases) {
    const SpecError e = spec_error(c.yaml);
    EXPECT_NE(std::string(e.what()).find(c.says), std::string::npos) << e.what() << "\n  in:\n"
                                                                     << c.yaml;
    EXPECT_EQ(e.line(), c.line) << e.what();
    EXPECT_EQ(e.column(), c.column) << e.what();
  }
}

TEST(SearchSpec, BelongsToASweepNotToABaseOrATrialConfig) {
  try {
    parse("name: s\nbases:\n  b: {search: {key: train.lr, interval: [1e-4, 1e-3]}}\n");
    ADD_FAILURE() << "a base with a search was accepted";
  } catch (const SpecError& e) {
    EXPECT_NE(std::string(e.what()).find("'search' cannot be set in a base"), std::string::npos)
        << e.what();
    EXPECT_EQ(e.line(), 3);
  }
  try {
    parse_trial_config("search: {key: train.lr, interval: [1e-4, 1e-3]}\n", "<t>", "/");
    ADD_FAILURE() << "a trial config with a search was accepted";
  } catch (const SpecError& e) {
    EXPECT_NE(std::string(e.what()).find("'search' belongs in a sweep spec"), std::string::npos)
        << e.what();
  }
}

TEST(SearchSpec, ReadsEveryKey) {
  const SweepSpec spec =
      parse(gpt2_spec("{key: locality.schedule.beta, interval: [1, 20], method: lipo, budget: 12, "
                      "parallel: 3, objective: {maximize: last_in_block, subject_to: {ratio: "
                      "1.02}}}"));
  ASSERT_TRUE(spec.search);
  EXPECT_EQ(spec.search->key, "locality.schedule.beta");
  EXPECT_EQ(spec.search->lo, 1);
  EXPECT_EQ(spec.search->hi, 20);
  EXPECT_EQ(spec.search->method, SearchMethod::lipo);
  EXPECT_EQ(spec.search->budget, 12);
  EXPECT_EQ(spec.search->parallel, 3);
  EXPECT_EQ(spec.search->objective.metric, SearchMetric::last_in_block);
  EXPECT_TRUE(spec.search->objective.maximize);
  EXPECT_EQ(spec.search->objective.max_ratio, 1.02);
  EXPECT_TRUE(spec.search->objective.needs_baseline());
  const SweepSpec plain =
      parse(gpt2_spec("{key: train.lr, interval: [1e-4, 1e-2], tolerance: 1e-4}"));
  EXPECT_EQ(plain.search->method, SearchMethod::brent);
  EXPECT_EQ(plain.search->objective.metric, SearchMetric::val_ppl);
  EXPECT_FALSE(plain.search->objective.maximize);
  EXPECT_EQ(plain.search->tolerance, 1e-4);
}

TEST(SearchPlan, APointIsTheSharedKeysWithTheKeyAtXOncePerSeed) {
  std::string yaml = gpt2_spec("{key: locality.schedule.beta, interval: [1, 20]}");
  const std::string quintic = "schedule: quintic";
  yaml.replace(yaml.find(quintic), quintic.size(),
               "schedule: {type: polynomial, beta: 5, lambda_min: 0.1, lambda_max: 0.9}");
  const SweepSpec spec = parse(yaml);
  TrialPlanner planner(spec, InputIdentity::as_written);
  const std::vector<PlannedTrial> trials = plan_search_point(spec, planner, 7.3000001);
  ASSERT_EQ(trials.size(), 2u);
  std::set<std::string> hashes;
  for (size_t i = 0; i < trials.size(); ++i) {
    const PlannedTrial& t = trials[i];
    EXPECT_EQ(t.config.seed, static_cast<int>(i));
    const Schedule& s = t.config.locality.schedule;
    ASSERT_EQ(s.kind(), Schedule::Kind::polynomial);
    EXPECT_EQ(s.beta(), 7.3) << "the point is rounded (rounded_point)";
    EXPECT_EQ(s.lambda_min(), 0.1) << "the written lambda_min is kept";
    EXPECT_EQ(s.lambda_max(), 0.9) << "the written lambda_max is kept";
    EXPECT_EQ(t.assignment,
              nlohmann::json::parse(R"({"search": {"locality.schedule.beta": 7.3}})"));
    EXPECT_EQ(t.hash, trial_hash(t.config));
    EXPECT_EQ(t.label, trial_label(t.config));
    hashes.insert(t.hash);
  }
  const std::vector<PlannedTrial> other = plan_search_point(spec, planner, 7.4);
  hashes.insert(other[0].hash);
  EXPECT_EQ(hashes.size(), 3u) << "seeds and points are different trials";
  // A key of the field table; the label says its value.
  const SweepSpec kappa = parse(gpt2_spec("{key: locality.kappa, interval: [1, 20]}"));
  TrialPlanner kappa_planner(kappa, InputIdentity::as_written);
  const PlannedTrial k = plan_search_point(kappa, kappa_planner, 2.5).front();
  EXPECT_EQ(k.config.locality.kappa, 2.5);
  EXPECT_EQ(k.label, "block quintic seed=0 locality.kappa=2.5");
}

TEST(SearchPlan, ASearchWithoutAxesPlansNoTrialOfTheSharedKeys) {
  const SweepSpec spec = parse(gpt2_spec("{key: locality.schedule.beta, interval: [1, 20]}"));
  EXPECT_TRUE(plan_sweep(spec, InputIdentity::as_written).trials.empty());
  // With a grid, the grid's trials are planned as before.
  const SweepSpec grid = parse(gpt2_spec("{key: locality.kappa, interval: [1, 20]}",
                                         "grid: {locality.schedule: [linear, cubic]}\n"));
  EXPECT_EQ(plan_sweep(grid, InputIdentity::as_written).trials.size(), 4u);
}

TEST(SearchPlan, ARatioObjectiveAddsTheDistributedBaselinesPerSeed) {
  for (const std::string objective :
       {"ratio", "{maximize: mean_lambda, subject_to: {ratio: 1.05}}"}) {
    const SweepSpec spec = parse(
        gpt2_spec("{key: locality.schedule.beta, interval: [1, 20], objective: " + objective + "}",
                  "grid: {locality.kappa: [4, 8]}\n"));
    const Plan plan = plan_sweep(spec, InputIdentity::as_written);
    ASSERT_EQ(plan.trials.size(), 6u) << "2 grid x 2 seeds, then 2 baselines";
    for (size_t i = 4; i < 6; ++i) {
      const PlannedTrial& b = plan.trials[i];
      EXPECT_EQ(b.config.seed, static_cast<int>(i - 4));
      EXPECT_EQ(b.config.locality.schedule.canonical(), "distributed");
      EXPECT_EQ(b.config.locality.kappa, 8) << "the shared keys, not a grid value";
      EXPECT_EQ(b.assignment["locality.schedule"], "distributed");
      EXPECT_EQ(b.label.rfind("baseline ", 0), 0u) << b.label;
    }
  }
  const SweepSpec none = parse(gpt2_spec("{key: locality.schedule.beta, interval: [1, 20]}"));
  TrialPlanner planner(none, InputIdentity::as_written);
  EXPECT_TRUE(plan_search_baselines(none, planner).empty());
}

TEST(SearchPlan, TheRegisteredPlanHoldsEveryPointAskedSoASyncAcceptsARerun) {
  TempDir dir;
  ResultsStore store = ResultsStore::open_for_writing((dir / "r.sqlite").string());
  const SweepSpec spec = parse(noop_spec("{key: locality.schedule.beta, interval: [1, 20]}",
                                         "seeds: [0, 1]\ngrid: {noop.duration_s: [0, 0.5]}\n"));
  const Plan fixed = plan_sweep(spec, InputIdentity::as_written);
  const Plan plan =
      with_search_points(spec, fixed, {8.25619, 13.7438, 8.25619}, InputIdentity::as_written);
  ASSERT_EQ(plan.trials.size(), 4u + 4u) << "the fixed trials, then 2 distinct points x 2 seeds";
  for (size_t i = 0; i < 4; ++i) EXPECT_EQ(plan.trials[i].hash, fixed.trials[i].hash);
  EXPECT_EQ(plan.trials[4].assignment["search"]["locality.schedule.beta"], 8.25619);
  EXPECT_EQ(plan.trials[6].assignment["search"]["locality.schedule.beta"], 13.7438);
  EXPECT_EQ(plan.trials[4].label, "noop seed=0 locality.schedule.beta=8.25619");
  const auto first = store.sync_sweep(spec, plan, (dir / "art").string(), false);
  EXPECT_EQ(first.new_trials, 8u);
  const auto again = store.sync_sweep(spec, plan, (dir / "art").string(), false);
  EXPECT_EQ(again.known_trials, 8u);
  EXPECT_EQ(again.new_trials, 0u);
  // Without the points asked, the recorded point trials look like another spec's.
  EXPECT_THROW(store.sync_sweep(spec, fixed, (dir / "art").string(), false), InputError);
}

TEST(NoopLoss, ADoneNoopTrialsLossIsAQuadraticInItsKey) {
  TrialConfig c = parse_trial_config(
      "kind: noop\nlocality: {schedule: poly:9.3}\n"
      "noop.loss: {key: locality.schedule.beta, center: 7.3, curvature: 0.05, floor: 3}\n",
      "<test>", "/");
  ASSERT_TRUE(noop_synthetic_loss(c));
  EXPECT_DOUBLE_EQ(*noop_synthetic_loss(c), 3 + 0.05 * 4);
  const std::string at_9_3 = trial_hash(c);
  c.locality.schedule = Schedule::polynomial(7.3);
  EXPECT_DOUBLE_EQ(*noop_synthetic_loss(c), 3);
  EXPECT_NE(trial_hash(c), at_9_3) << "the key's value is part of a noop trial's identity";
  c.locality.schedule = Schedule::parse("distributed");
  EXPECT_DOUBLE_EQ(*noop_synthetic_loss(c), 3 + 0.05 * 7.3 * 7.3) << "beta of a uniform: 0";
  // Flat keys read the same; a field key reads the field.
  const TrialConfig flat = parse_trial_config(
      "kind: noop\nlocality.kappa: 2\nnoop.loss.key: locality.kappa\nnoop.loss.center: 1\n",
      "<test>", "/");
  EXPECT_DOUBLE_EQ(*noop_synthetic_loss(flat), 1.0) << "floor 0 + curvature 1 * (2 - 1)^2";
  // Without a key: no loss, and no noop.loss key in the identity (old noop trials keep theirs).
  const TrialConfig plain = parse_trial_config("kind: noop\nnoop.duration_s: 1\n", "<test>", "/");
  EXPECT_FALSE(noop_synthetic_loss(plain));
  EXPECT_FALSE(canonical_json(plain)["noop"].contains("loss"));
  EXPECT_EQ(trial_config_from_json(to_json(c)).noop.loss.key, "locality.schedule.beta");
}

TEST(NumericKeys, ReadAndWriteFieldsAndScheduleParameters) {
  TrialConfig c;
  c.locality.schedule = Schedule::polynomial(5, 0.2, 0.8);
  EXPECT_EQ(numeric_key_value(c, "locality.schedule.beta"), 5);
  EXPECT_EQ(numeric_key_value(c, "locality.schedule.lambda_min"), 0.2);
  EXPECT_EQ(numeric_key_value(c, "locality.schedule.lambda_max"), 0.8);
  EXPECT_EQ(numeric_key_value(c, "train.lr"), c.train.lr);
  EXPECT_EQ(numeric_key_yaml(c, "train.lr", 0.001).yaml, "0.001");
  const NumericKeyValue v = numeric_key_yaml(c, "locality.schedule.lambda_max", 0.5);
  EXPECT_EQ(v.path, "locality.schedule");
  EXPECT_EQ(v.yaml, "{type: polynomial, beta: 5, lambda_min: 0.2, lambda_max: 0.5}");
  EXPECT_FALSE(numeric_key_problem("locality.sigma"));
  EXPECT_TRUE(numeric_key_problem("locality.schedule"));
  EXPECT_TRUE(numeric_key_problem("eval.every"));
}

}  // namespace
}  // namespace locsweep
