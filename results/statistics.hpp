// The statistics of the results table (`locsweep results`, the report): the mean, the sample
// standard deviation, Student's t quantile, the half-width of a 95 % confidence interval, the
// perplexity ratio and the share of the localist gap closed (SPEC.md "Metrics"). One
// implementation of each; results/table.cpp is their only user. Pure functions, no I/O.
//
// Conventions (the table's, kept as they were):
//   - fewer than two values have no spread: sample_std and ci95_half_width are 0;
//   - the mean of no values is NaN (the table never asks for it);
//   - NaN inputs propagate (a NaN perplexity gives a NaN mean, std and CI).
#pragma once

#include <optional>
#include <span>

namespace locsweep::stats {

// Arithmetic mean; NaN for no values.
double mean(std::span<const double> values);

// Sample standard deviation (divisor n - 1); 0 for fewer than two values.
double sample_std(std::span<const double> values);

// Student's t quantile t_{0.975, dof}: tabulated (3 decimals) for dof 1..30, 1.96 + 2.4 / dof
// beyond (within 0.0025 of the exact value), 0 for dof < 1.
double t_quantile_975(int dof);

// Half-width of the 95 % confidence interval of the mean: t_{0.975, n-1} * std / sqrt(n);
// 0 for fewer than two values.
double ci95_half_width(std::span<const double> values);

// Mean, sample std and CI half-width of one sample.
struct Summary {
  double mean = 0, std = 0, ci95 = 0;
};
Summary summarize(std::span<const double> values);

// A trial's perplexity ratio: its PPL over the PPL of the distributed trial of the same seed,
// data and model.
double ratio(double ppl, double distributed_ppl);

// Whether a mean ratio is significantly above 1: its 95 % confidence interval
// [mean - ci95, mean + ci95] lies wholly above 1. A CI needs at least two values, so a ratio of
// fewer than two seeds is never significant. NaN is not significant.
bool significantly_above_one(double ratio_mean, double ratio_ci95, int n);

// Percent of the localist gap that a schedule with mean ratio `ratio` closes:
// 100 * (R_loc - R) / (R_loc - 1). nullopt unless the localist model is significantly worse
// than the distributed one (significantly_above_one of its mean ratio R_loc, CI half-width and
// number of ratios): with no significant gap there is nothing to close, and dividing by a
// gap within noise gives meaningless percentages (249 % for R_loc = 1.002). Never "-0".
std::optional<double> gap_closed(double ratio, double localist_ratio, double localist_ci95,
                                 int localist_n);

}  // namespace locsweep::stats
