// The statistics of the results table (results/statistics.hpp), tested directly: known inputs
// and outputs, table-driven. Expected values were computed independently of this code:
// means and sample standard deviations with Python's `statistics` module (mean, stdev), the
// CI half-widths as t * stdev / sqrt(n) in Python with the t values below, and the exact
// Student t quantiles are scipy.stats.t.ppf(0.975, dof).
#include "results/statistics.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <vector>

namespace locsweep::stats {
namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

struct SampleCase {
  const char* name;
  std::vector<double> values;
  double mean, std, ci95;  // expected; NaN: expect NaN
};

// statistics.mean / statistics.stdev; ci95 = t_{0.975, n-1} (3-decimal table) * stdev / sqrt(n).
const SampleCase kSamples[] = {
    {"n1_no_spread", {40.0}, 40.0, 0.0, 0.0},
    {"n2", {40.0, 44.0}, 42.0, 2.8284271247461903, 25.412},  // 12.706 * 2.828.. / sqrt(2)
    {"n3", {30.5, 31.25, 29.75}, 30.5, 0.75, 1.8632536562422197},
    {"zero_variance", {12.0, 12.0, 12.0}, 12.0, 0.0, 0.0},
    {"n5_ratios", {1.1, 0.95, 1.02, 1.07, 0.99}, 1.026, 0.06024948132556832, 0.07479761878562718},
    {"nan_propagates", {30.0, kNaN, 31.0}, kNaN, kNaN, kNaN},
    {"nan_alone_n1", {kNaN}, kNaN, 0.0, 0.0},  // one value has no spread, even NaN
};

void expect_value(double actual, double expected, const char* what, const char* name) {
  if (std::isnan(expected))
    EXPECT_TRUE(std::isnan(actual)) << what << " of " << name << " = " << actual;
  else
    EXPECT_NEAR(actual, expected, 1e-12 * std::max(1.0, std::abs(expected)))
        << what << " of " << name;
}

TEST(Statistics, SamplesTable) {
  for (const auto& c : kSamples) {
    expect_value(mean(c.values), c.mean, "mean", c.name);
    expect_value(sample_std(c.values), c.std, "sample_std", c.name);
    expect_value(ci95_half_width(c.values), c.ci95, "ci95_half_width", c.name);
    const Summary s = summarize(c.values);
    expect_value(s.mean, c.mean, "summarize.mean", c.name);
    expect_value(s.std, c.std, "summarize.std", c.name);
    expect_value(s.ci95, c.ci95, "summarize.ci95", c.name);
  }
}

TEST(Statistics, EmptySampleHasNaNMeanAndNoSpread) {
  const std::vector<double> none;
  EXPECT_TRUE(std::isnan(mean(none)));
  EXPECT_EQ(sample_std(none), 0.0);
  EXPECT_EQ(ci95_half_width(none), 0.0);
}

struct QuantileCase {
  int dof;
  double returned;  // what t_quantile_975 returns (the table, or 1.96 + 2.4 / dof)
  double exact;     // scipy.stats.t.ppf(0.975, dof); NaN where undefined
};

const QuantileCase kQuantiles[] = {
    {-1, 0.0, kNaN},
    {0, 0.0, kNaN},
    {1, 12.706, 12.706204736174698},
    {2, 4.303, 4.302652729749464},
    {3, 3.182, 3.182446305284263},
    {10, 2.228, 2.228138851986274},
    {30, 2.042, 2.0422724563012373},
    {31, 1.96 + 2.4 / 31, 2.0395134463964077},
    {60, 2.0, 2.000297821058262},
    {120, 1.98, 1.979930405052777},
    {1000, 1.9624, 1.9623390808264078},
};

TEST(Statistics, StudentTQuantileTable) {
  for (const auto& c : kQuantiles) {
    EXPECT_NEAR(t_quantile_975(c.dof), c.returned, 1e-12) << "dof " << c.dof;
    if (!std::isnan(c.exact)) {  // the documented accuracy: 3 decimals, 0.0025 beyond 30
      EXPECT_NEAR(t_quantile_975(c.dof), c.exact, c.dof <= 30 ? 0.0005 : 0.0025) << "dof " << c.dof;
    }
  }
}

TEST(Statistics, RatioIsPerplexityOverDistributed) {
  EXPECT_DOUBLE_EQ(ratio(44.0, 40.0), 1.1);
  EXPECT_DOUBLE_EQ(ratio(40.0, 40.0), 1.0);
  EXPECT_TRUE(std::isnan(ratio(kNaN, 40.0)));
}

struct GapCase {
  const char* name;
  double ratio, localist, localist_ci95;
  int localist_n;
  std::optional<double> expected;  // percent
};

// 100 * (R_loc - R) / (R_loc - 1), only where R_loc - ci95 > 1 (+ 1e-12) with n >= 2.
const GapCase kGaps[] = {
    {"closes_half", 1.1, 1.2, 0.05, 3, 50.0},
    {"closes_all", 1.0, 1.2, 0.05, 3, 100.0},
    {"closes_none", 1.2, 1.2, 0.05, 3, 0.0},
    {"better_than_distributed", 0.9, 1.2, 0.05, 3, 150.0},
    {"worse_than_localist", 1.3, 1.2, 0.05, 3, -50.0},
    {"no_spread_over_seeds", 1.1, 1.2, 0.0, 3, 50.0},
    // The case: localist 1.002 whose CI reaches below 1 printed 249 %.
    {"localist_ci_contains_one", 0.997, 1.002, 0.003, 3, std::nullopt},
    {"localist_ci_touches_one", 1.0, 1.1, 0.1, 3, std::nullopt},
    {"one_seed_has_no_ci", 1.1, 1.2, 0.0, 1, std::nullopt},
    {"localist_equal_to_distributed", 1.0, 1.0, 0.0, 3, std::nullopt},
    {"localist_within_rounding", 1.0, 1.0 + 1e-13, 0.0, 3, std::nullopt},
    {"localist_better", 0.95, 0.9, 0.01, 3, std::nullopt},
    {"localist_nan", 1.0, kNaN, 0.0, 3, std::nullopt},
    {"localist_ci_nan", 1.0, 1.2, kNaN, 3, std::nullopt},
};

TEST(Statistics, GapClosedTable) {
  for (const auto& c : kGaps) {
    const auto gap = gap_closed(c.ratio, c.localist, c.localist_ci95, c.localist_n);
    ASSERT_EQ(gap.has_value(), c.expected.has_value()) << c.name;
    if (gap) {
      EXPECT_NEAR(*gap, *c.expected, 1e-9) << c.name;
    }
  }
}

// Significance from a sample's own CI: ratios {1.002, 1.003, 1.0025} have mean 1.0025 and
// half-width 4.303 * 0.0005 / sqrt(3) = 0.00124217 (Python statistics), so [1.00126, 1.00374]
// lies above 1; {1.002, 0.999, 1.004}: mean 1.001667, half-width 0.006252: not significant.
TEST(Statistics, SignificantlyAboveOneFromASample) {
  const std::vector<double> above = {1.002, 1.003, 1.0025}, within = {1.002, 0.999, 1.004};
  const Summary a = summarize(above), w = summarize(within);
  EXPECT_NEAR(a.ci95, 0.001242169104161343, 1e-12);
  EXPECT_TRUE(significantly_above_one(a.mean, a.ci95, 3));
  EXPECT_NEAR(w.ci95, 0.006252114051351846, 1e-12);
  EXPECT_FALSE(significantly_above_one(w.mean, w.ci95, 3));
  EXPECT_FALSE(significantly_above_one(1.5, 0.0, 1));  // one value: no CI
}

}  // namespace
}  // namespace locsweep::stats
