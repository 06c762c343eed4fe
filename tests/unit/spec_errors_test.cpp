// Every malformed or invalid spec gives one message with file:line:col and what would be
// valid, as an InputError (exit code 2). Lines and columns are 1-based.
#include <gtest/gtest.h>

#include "common/error.hpp"
#include "sweeps/plan.hpp"
#include "sweeps/spec_error.hpp"

namespace locsweep {
namespace {

struct ErrorCase {
  const char* name;
  const char* yaml;
  int line, column;
  const char* says;  // a phrase the message must contain
};

class SpecErrors : public testing::TestWithParam<ErrorCase> {};

TEST_P(SpecErrors, AreLocatedAndExplained) {
  const ErrorCase& c = GetParam();
  try {
    (void)plan_sweep(parse_sweep(c.yaml, "spec.yaml", "/"));
    FAIL() << c.name << ": accepted";
  } catch (const SpecError& e) {
    const std::string what = e.what();
    EXPECT_EQ(e.line(), c.line) << what;
    EXPECT_EQ(e.column(), c.column) << what;
    EXPECT_NE(what.find(c.says), std::string::npos) << what;
    const std::string where =
        "spec.yaml:" + std::to_string(c.line) + ":" + std::to_string(c.column) + ": ";
    EXPECT_EQ(what.rfind(where, 0), 0u) << what;
    EXPECT_EQ(exit_code_for(e), 2);
  }
}

INSTANTIATE_TEST_SUITE_P(
    Table, SpecErrors,
    testing::Values(
        ErrorCase{"bad_yaml", "name: x\nmodel: {n_layer: 3\n", 3, 1, "malformed YAML"},
        ErrorCase{"bad_indent", "name: x\nmodel:\n  n_layer: 3\n n_head: 2\n", 4, 2,
                  "malformed YAML"},
        ErrorCase{"not_a_map", "- a\n- b\n", 1, 1, "mapping"},
        ErrorCase{"no_name", "model: {n_layer: 2}\n", 1, 1, "needs a 'name'"},
        ErrorCase{"unknown_top_key", "name: x\nmodle: {n_layer: 2}\n", 2, 1, "did you mean"},
        ErrorCase{"unknown_nested_key", "name: x\ntrain:\n  learning_rate: 1\n", 3, 3,
                  "unknown key 'train.learning_rate'"},
        ErrorCase{"typo_suggests", "name: x\ntrain: {stpes: 3}\n", 2, 9, "train.steps"},
        ErrorCase{"section_not_map", "name: x\nmodel: 12\n", 2, 8, "must be a mapping"},
        ErrorCase{"wrong_type_int", "name: x\nmodel: {n_layer: many}\n", 2, 18,
                  "expected an integer"},
        ErrorCase{"float_for_int", "name: x\nmodel: {n_layer: 2.5}\n", 2, 18,
                  "expected an integer"},
        ErrorCase{"wrong_type_number", "name: x\ntrain: {lr: fast}\n", 2, 13, "expected a number"},
        ErrorCase{"list_for_scalar", "name: x\ntrain: {lr: [1, 2]}\n", 2, 13,
                  "expected a single value"},
        ErrorCase{"negative_lr", "name: x\ntrain: {lr: -1}\n", 2, 13, "must be in (0"},
        ErrorCase{"beta_zero", "name: x\nlocality: {schedule: 'poly:0'}\n", 2, 22, "beta must be"},
        ErrorCase{"beta_negative_map",
                  "name: x\nlocality:\n  schedule: {type: polynomial, beta: -2}\n", 3, 13,
                  "must be in (0"},
        ErrorCase{"lambda_out_of_range", "name: x\nlocality: {schedule: 'uniform:1.5'}\n", 2, 22,
                  "[0, 1]"},
        ErrorCase{"lambda_min_gt_max", "name: x\nlocality: {schedule: 'poly:2:0.9:0.1'}\n", 2, 22,
                  "must not exceed"},
        ErrorCase{"unknown_schedule", "name: x\nlocality: {schedule: quintik}\n", 2, 22, "valid:"},
        ErrorCase{"unknown_mechanism", "name: x\nlocality: {mechanism: windowed}\n", 2, 23,
                  "not one of"},
        ErrorCase{"bad_blocks", "name: x\nlocality: {blocks: 'fixed:0'}\n", 2, 20, "fixed needs"},
        ErrorCase{"duplicate_key", "name: x\ntrain: {lr: 1e-3, lr: 2e-3}\n", 2, 19,
                  "duplicate key 'lr'"},
        ErrorCase{"duplicate_top_key", "name: x\nseed: 1\nseed: 2\n", 3, 1, "duplicate key 'seed'"},
        ErrorCase{"duplicate_grid_key", "name: x\ngrid:\n  seed: [1]\n  seed: [2]\n", 4, 3,
                  "duplicate key"},
        ErrorCase{"empty_grid", "name: x\ngrid: {}\n", 2, 7, "empty grid"},
        ErrorCase{"empty_axis", "name: x\ngrid:\n  train.lr: []\n", 3, 13, "has no values"},
        ErrorCase{"axis_not_list", "name: x\ngrid:\n  train.lr: 0.1\n", 3, 13, "must be a list"},
        ErrorCase{"unknown_grid_key", "name: x\ngrid:\n  train.rate: [1]\n", 3, 3,
                  "not a trial key"},
        ErrorCase{"grid_section_key", "name: x\ngrid:\n  train: [1]\n", 3, 3, "it is a section"},
        ErrorCase{"bad_grid_value", "name: x\ngrid:\n  locality.schedule: [linear, 'poly:-3']\n", 3,
                  31, "beta must be"},
        ErrorCase{"zip_unequal", "name: x\nzip:\n  train.lr: [1, 2]\n  train.steps: [1]\n", 4, 3,
                  "equal lengths"},
        ErrorCase{"seeds_duplicate", "name: x\nseeds: [0, 1, 0]\n", 2, 15, "appears twice"},
        ErrorCase{"seeds_negative", "name: x\nseeds: [-1]\n", 2, 9, "whole number"},
        ErrorCase{"seeds_and_seed_axis", "name: x\nseeds: [0]\ngrid:\n  seed: [1, 2]\n", 4, 3,
                  "not both"},
        ErrorCase{"bad_order", "name: x\norder: random\n", 2, 8, "longest-first or fifo"},
        ErrorCase{"heads_do_not_divide", "name: x\nmodel: {n_embd: 100, n_head: 3}\n", 2, 17,
                  "divisible"},
        ErrorCase{"explicit_wrong_length",
                  "name: x\nmodel: {n_layer: 3}\ngrid:\n  locality.schedule: ['[0, 1]']\n", 4, 23,
                  "3 layers"},
        ErrorCase{"min_lr_above_lr", "name: x\ntrain: {lr: 1e-4, min_lr: 1e-3}\n", 2, 27,
                  "must not exceed lr"},
        ErrorCase{"bad_init", "name: x\nmodel: {init: gpt2}\n", 2, 15, "scratch, hf:"},
        ErrorCase{"bad_point", "name: x\npoints:\n  - {train.lrr: 1}\n", 3, 6, "not a trial key"},
        ErrorCase{"inf_number", "name: x\ntrain: {lr: .inf}\n", 2, 13, "finite"},
        // Input limits: the documented ranges, seeds and the size of a sweep.
        ErrorCase{"dropout_one", "name: x\nmodel: {dropout: 1.0}\n", 2, 18, "must be in [0, 1)"},
        ErrorCase{"beta1_one", "name: x\ntrain: {beta1: 1.0}\n", 2, 16, "must be in [0, 1)"},
        ErrorCase{"beta2_one", "name: x\ntrain:\n  beta2: 1\n", 3, 10, "must be in [0, 1)"},
        ErrorCase{"int_beyond_long_long", "name: x\ntrain: {steps: 99999999999999999999}\n", 2, 16,
                  "from 0 to 100000000"},
        ErrorCase{"seeds_past_int_max", "name: x\nseeds: {start: 2147483647, count: 2}\n", 2, 8,
                  "beyond the largest seed 2147483647"},
        ErrorCase{"seed_past_int_max", "name: x\nseeds: [2147483648]\n", 2, 9,
                  "from 0 to 2147483647"},
        ErrorCase{"seeds_count_past_cap", "name: x\nseeds: {count: 1000001}\n", 2, 16,
                  "limit of 1000000 trials"},
        ErrorCase{"grid_times_seeds_past_cap",
                  "name: x\nkind: noop\ngrid:\n  noop.duration_s: [0, 1]\n"
                  "seeds: {count: 500001}\n",
                  4, 3, "expands into 1000002 trials (2 (grid), x 500001 seeds)"}));

TEST(SpecErrors, EmptyFileSaysWhatIsNeeded) {
  try {
    (void)parse_sweep("", "empty.yaml", "/");
    FAIL();
  } catch (const SpecError& e) {
    EXPECT_NE(std::string(e.what()).find("empty"), std::string::npos) << e.what();
  }
}

TEST(SpecErrors, TrialConfigRejectsSweepAxes) {
  EXPECT_THROW((void)parse_trial_config("grid: {seed: [1]}\n", "t.yaml", "/"), SpecError);
}

}  // namespace
}  // namespace locsweep
