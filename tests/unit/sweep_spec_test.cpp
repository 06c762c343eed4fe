// Expanding sweeps: the shipped specs, grids, zips, points, seeds, duplicates and extension.
#include <gtest/gtest.h>

#include <set>

#include "sweeps/plan.hpp"

namespace locsweep {
namespace {

const std::string kSource = LOCSWEEP_SOURCE_DIR;

Plan plan_text(const std::string& yaml) {
  return plan_sweep(parse_sweep(yaml, "<test>", "/"));
}

std::set<std::string> hashes(const Plan& plan) {
  std::set<std::string> out;
  for (const auto& t : plan.trials) out.insert(t.hash);
  return out;
}

struct ShippedCase {
  const char* file;
  size_t trials;
  // The -gpt2 sweeps start from hf:gpt2, whose weights a test machine does not have: they are
  // planned with identity as written (nothing read).
  InputIdentity identity = InputIdentity::content;
};

class ShippedSweeps : public testing::TestWithParam<ShippedCase> {};

TEST_P(ShippedSweeps, ExpandToTheExpectedNumberOfTrials) {
  const Plan plan =
      plan_sweep(load_sweep(kSource + "/sweeps/" + GetParam().file), GetParam().identity);
  EXPECT_EQ(plan.trials.size(), GetParam().trials);
  EXPECT_EQ(hashes(plan).size(), plan.trials.size());
}

INSTANTIATE_TEST_SUITE_P(
    Table, ShippedSweeps,
    // paper: (schedules x {zero-shot, fine-tuned} + one base) x 3 seeds
    testing::Values(ShippedCase{"paper-v1.yaml", 45}, ShippedCase{"paper-v3.yaml", 33},
                    // schedules x 3 seeds + one zero-shot row each
                    ShippedCase{"paper-v1-gpt2.yaml", 28, InputIdentity::as_written},
                    ShippedCase{"paper-v3-gpt2.yaml", 20, InputIdentity::as_written},
                    ShippedCase{"beyond-quintic.yaml", 36},
                    // 4 mechanisms x 4 schedules, distributed merged across
                    // mechanisms (13), + 2 points, x 2 seeds.
                    ShippedCase{"mechanisms.yaml", 30},
                    // one base, 3 schedules x 3 seeds, 3 zero-shot rows
                    ShippedCase{"demo.yaml", 13},
                    // the demo's base, the ratio's distributed baseline, the first point
                    ShippedCase{"search-demo.yaml", 2}));

TEST(Plan, PaperV1HasItsBasesThenTheSevenConfigurationsInOrder) {
  const Plan plan = plan_sweep(load_sweep(kSource + "/sweeps/paper-v1.yaml"));
  std::vector<std::string> labels;
  for (const auto& t : plan.trials)
    if (t.config.seed == 0 && (t.base.empty() || t.config.train.steps > 0))
      labels.push_back(t.label);
  EXPECT_EQ(labels, (std::vector<std::string>{"base sotu seed=0", "none distributed seed=0",
                                              "block localist seed=0", "block linear seed=0",
                                              "block quadratic seed=0", "block cubic seed=0",
                                              "block quartic seed=0", "block quintic seed=0"}));
  for (const auto& t : plan.trials)
    if (t.label.rfind("base ", 0) != 0) {
      EXPECT_FALSE(t.base.empty()) << t.label;
      EXPECT_EQ(t.config.inputs.init, "trial:" + t.base) << t.label;
    }
}

TEST(Plan, GridIsACartesianProductTimesSeeds) {
  const Plan plan = plan_text(
      "name: g\nlocality: {mechanism: block}\ngrid:\n  locality.schedule: [linear, cubic]\n"
      "  train.lr: [1e-3, 2e-3, 3e-3]\nseeds: [0, 1]\n");
  EXPECT_EQ(plan.trials.size(), 12u);
  EXPECT_EQ(plan.trials[0].assignment["train.lr"], 1e-3);
  EXPECT_EQ(plan.trials[0].config.seed, 0);
  EXPECT_EQ(plan.trials[1].config.seed, 1);
}

TEST(Plan, ZipCombinesElementWiseAndPointsAreAdded) {
  const Plan plan = plan_text(
      "name: z\nzip:\n  train.lr: [1e-3, 2e-3]\n  train.steps: [10, 20]\n"
      "points:\n  - {locality.mechanism: mask, locality.schedule: localist}\n");
  ASSERT_EQ(plan.trials.size(), 3u);
  EXPECT_EQ(plan.trials[1].config.train.lr, 2e-3);
  EXPECT_EQ(plan.trials[1].config.train.steps, 20);
  EXPECT_EQ(plan.trials[2].label, "mask localist seed=0");
}

TEST(Plan, PointsAloneDoNotAddTheBaseTrial) {
  const Plan plan = plan_text("name: p\npoints:\n  - {seed: 3}\n  - {seed: 4}\n");
  ASSERT_EQ(plan.trials.size(), 2u);
  EXPECT_EQ(plan.trials[0].config.seed, 3);
}

TEST(Plan, EquivalentSpellingsInAGridAreOneTrial) {
  const Plan plan = plan_text(
      "name: d\nlocality: {mechanism: block}\ngrid:\n"
      "  locality.schedule: [quintic, 'poly:5', {type: polynomial, beta: 5.0}, 'poly:5.0']\n");
  EXPECT_EQ(plan.trials.size(), 1u);
  EXPECT_EQ(plan.merged_duplicates, 3u);
}

TEST(Plan, AddingAGridValueAddsExactlyTheNewTrials) {
  const std::string head = "name: ext\nlocality: {mechanism: block}\nseeds: [0, 1, 2]\ngrid:\n";
  const Plan before = plan_text(head + "  locality.schedule: [distributed, localist, quintic]\n");
  const Plan after = plan_text(
      head + "  locality.schedule: [distributed, localist, quintic, octic, 'poly:7.5']\n");
  const auto old_hashes = hashes(before), new_hashes = hashes(after);
  for (const auto& h : old_hashes)
    EXPECT_TRUE(new_hashes.count(h)) << "a done trial changed identity";
  std::set<std::string> added;
  for (const auto& t : after.trials)
    if (!old_hashes.count(t.hash)) added.insert(t.label);
  EXPECT_EQ(added, (std::set<std::string>{"block octic seed=0", "block octic seed=1",
                                          "block octic seed=2", "block poly:7.5 seed=0",
                                          "block poly:7.5 seed=1", "block poly:7.5 seed=2"}));
}

TEST(Plan, SeedRangeForm) {
  const Plan plan = plan_text("name: s\nkind: noop\nseeds: {start: 10, count: 1000}\n");
  ASSERT_EQ(plan.trials.size(), 1000u);
  EXPECT_EQ(plan.trials.back().config.seed, 1009);
}

TEST(Plan, DispatchOrderKey) {
  EXPECT_EQ(parse_sweep("name: o\norder: fifo\n", "<t>", "/").order, DispatchOrder::fifo);
  EXPECT_EQ(parse_sweep("name: o\n", "<t>", "/").order, DispatchOrder::longest_first);
}

}  // namespace
}  // namespace locsweep
