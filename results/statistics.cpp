#include "results/statistics.hpp"

#include <cmath>
#include <limits>
#include <numeric>

namespace locsweep::stats {

double mean(std::span<const double> values) {
  if (values.empty()) return std::numeric_limits<double>::quiet_NaN();
  return std::accumulate(values.begin(), values.end(), 0.0) / static_cast<double>(values.size());
}

double sample_std(std::span<const double> values) {
  if (values.size() < 2) return 0.0;
  const double m = mean(values);
  double squares = 0;
  for (const double v : values) squares += (v - m) * (v - m);
  return std::sqrt(squares / static_cast<double>(values.size() - 1));
}

double t_quantile_975(int dof) {
  static constexpr double kTable[] = {12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306,
                                      2.262,  2.228, 2.201, 2.179, 2.160, 2.145, 2.131, 2.120,
                                      2.110,  2.101, 2.093, 2.086, 2.080, 2.074, 2.069, 2.064,
                                      2.060,  2.056, 2.052, 2.048, 2.045, 2.042};
  if (dof < 1) return 0.0;
  if (dof <= 30) return kTable[dof - 1];
  return 1.96 + 2.4 / dof;  // close to the exact values beyond 30
}

double ci95_half_width(std::span<const double> values) {
  if (values.size() < 2) return 0.0;
  const double n = static_cast<double>(values.size());
  return t_quantile_975(static_cast<int>(values.size()) - 1) * sample_std(values) / std::sqrt(n);
}

Summary summarize(std::span<const double> values) {
  return {mean(values), sample_std(values), ci95_half_width(values)};
}

double ratio(double ppl, double distributed_ppl) {
  return ppl / distributed_ppl;
}

bool significantly_above_one(double ratio_mean, double ratio_ci95, int n) {
  return n >= 2 && ratio_mean - ratio_ci95 > 1.0 + 1e-12;  // false for NaN
}

std::optional<double> gap_closed(double ratio, double localist_ratio, double localist_ci95,
                                 int localist_n) {
  if (!significantly_above_one(localist_ratio, localist_ci95, localist_n)) return std::nullopt;
  return 100.0 * (localist_ratio - ratio) / (localist_ratio - 1.0) + 0.0;  // + 0: no "-0.0"
}

}  // namespace locsweep::stats
