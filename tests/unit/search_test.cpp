// The search core (search/search.hpp) on synthetic objectives, exactly: brent and lipo find
// known minima within a budget, a replay with the first k values known asks exactly the full
// run's first points, failed points are told as documented, objective_value() per its formula.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <map>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

#include "search/search.hpp"

namespace locsweep {
namespace {

using Objective = std::function<double(double)>;
using ValueOf = std::function<std::optional<PointValue>(double)>;

SearchSpec spec_of(SearchMethod method, int budget = 20, int parallel = 1) {
  SearchSpec spec;
  spec.key = "locality.schedule.beta";
  spec.lo = 1;
  spec.hi = 20;
  spec.method = method;
  spec.budget = budget;
  spec.parallel = parallel;
  return spec;
}

// value_of answering every point from f.
ValueOf from(const Objective& f) {
  return [f](double x) -> std::optional<PointValue> { return PointValue{false, f(x)}; };
}

// value_of answering only the points in `known` (from f), nothing for the others.
ValueOf from_known(const Objective& f, const std::vector<double>& known) {
  const std::set<double> set(known.begin(), known.end());
  return [f, set](double x) -> std::optional<PointValue> {
    if (!set.count(x)) return std::nullopt;
    return PointValue{false, f(x)};
  };
}

std::vector<double> first(const std::vector<double>& xs, size_t n) {
  return {xs.begin(), xs.begin() + static_cast<std::ptrdiff_t>(std::min(n, xs.size()))};
}

double best_x(const SearchState& state) {
  return state.asked.at(state.best.value());
}

Objective quadratic(double star) {
  return [star](double x) { return (x - star) * (x - star); };
}

const struct MinimumCase {
  const char* name;
  double star;
  Objective f;
} minimum_cases[] = {
    {"quadratic at 7.3", 7.3, quadratic(7.3)},
    {"near the low end", 1.05, quadratic(1.05)},
    {"near the high end", 19.9, quadratic(19.9)},
    {"at the low end", 1, quadratic(1)},
    {"at the high end", 20, quadratic(20)},
    {"at an integer", 7, quadratic(7)},
    {"shifted and scaled", 7.3, [](double x) { return 3 * (x - 7.3) * (x - 7.3) + 250; }},
    {"quartic (flat bottom)", 7.3, [](double x) { return std::pow(x - 7.3, 4); }},
    {"flat within 0.05", 7.3,
     [](double x) { return std::pow(std::max(std::fabs(x - 7.3) - 0.05, 0.0), 2); }},
};

const SearchMethod both_methods[] = {SearchMethod::brent, SearchMethod::lipo};

TEST(Search, FindsTheMinimumWithinATenthInAtMostTwentyPoints) {
  for (const auto method : both_methods)
    for (const auto& c : minimum_cases) {
      SCOPED_TRACE(std::string(to_string(method)) + ": " + c.name);
      const auto state = replay_search(spec_of(method), from(c.f));
      EXPECT_TRUE(state.finished);
      EXPECT_TRUE(state.pending.empty());
      EXPECT_LE(state.asked.size(), 20u);
      EXPECT_NEAR(best_x(state), c.star, 0.1);
    }
}

TEST(Search, BrentConvergesOnTheQuadraticAtSevenPointThree) {
  const auto state = replay_search(spec_of(SearchMethod::brent), from(quadratic(7.3)));
  EXPECT_TRUE(state.finished);
  EXPECT_LT(state.asked.size(), 20u);
  EXPECT_EQ(state.why.rfind("converged at 7.3 ", 0), 0u) << state.why;
  // It starts at both ends and the middle (initial_search_radius = half the interval).
  EXPECT_EQ(first(state.asked, 3), (std::vector<double>{1, 20, 10.5}));
}

TEST(Search, LipoRunsItsBudget) {
  const auto state = replay_search(spec_of(SearchMethod::lipo), from(quadratic(7.3)));
  EXPECT_TRUE(state.finished);
  EXPECT_EQ(state.asked.size(), 20u);
  EXPECT_EQ(state.why, "budget of 20 points spent");
}

const struct ReplayCase {
  SearchMethod method;
  int parallel;
  size_t in_flight;  // points pending while the values are known in ask order
} replay_cases[] = {
    {SearchMethod::brent, 1, 1},
    {SearchMethod::brent, 4, 1},  // brent: always one point in flight
    {SearchMethod::lipo, 1, 1},
    {SearchMethod::lipo, 3, 3},
};

TEST(Search, AReplayWithTheFirstKValuesKnownAsksTheRunsFirstPoints) {
  const auto f = quadratic(7.3);
  for (const auto& c : replay_cases) {
    const auto spec = spec_of(c.method, 20, c.parallel);
    const auto run = replay_search(spec, from(f));
    ASSERT_GE(run.asked.size(), 10u);
    for (size_t k = 0; k <= run.asked.size(); ++k) {
      SCOPED_TRACE(std::string(to_string(c.method)) + " parallel " + std::to_string(c.parallel) +
                   ", k = " + std::to_string(k));
      const auto known = first(run.asked, k);
      const auto replay = replay_search(spec, from_known(f, known));
      const size_t end = std::min(k + c.in_flight, run.asked.size());
      EXPECT_EQ(replay.asked, first(run.asked, end));
      EXPECT_EQ(replay.pending,
                (std::vector<double>{run.asked.begin() + static_cast<std::ptrdiff_t>(k),
                                     run.asked.begin() + static_cast<std::ptrdiff_t>(end)}));
      EXPECT_EQ(replay.finished, k == run.asked.size());
      if (k == run.asked.size()) {
        EXPECT_EQ(replay.why, run.why);
      }
      if (k > 0) {
        EXPECT_TRUE(replay.best.has_value());
      }
      // Replaying again changes nothing.
      const auto again = replay_search(spec, from_known(f, known));
      EXPECT_EQ(again.asked, replay.asked);
      EXPECT_EQ(again.pending, replay.pending);
      EXPECT_EQ(again.best, replay.best);
      EXPECT_EQ(again.why, replay.why);
    }
  }
}

TEST(Search, LipoTellsInAskOrderSoAValueKnownOutOfOrderWaits) {
  const auto f = quadratic(7.3);
  const auto spec = spec_of(SearchMethod::lipo, 20, 3);
  const auto run = replay_search(spec, from(f));
  // The second and third points are known, the first not: nothing is told, nothing new asked.
  const auto replay = replay_search(spec, from_known(f, {run.asked[1], run.asked[2]}));
  EXPECT_EQ(replay.asked, first(run.asked, 3));
  EXPECT_EQ(replay.pending, std::vector<double>{run.asked[0]});
  EXPECT_FALSE(replay.finished);
}

TEST(Search, ASmallerBudgetAsksTheFirstPointsOfALargerOne) {
  // The low-end minimum takes brent more than 10 points, so both budgets end it.
  for (const auto method : both_methods) {
    SCOPED_TRACE(std::string(to_string(method)));
    const auto f = quadratic(1.05);
    const auto twenty = replay_search(spec_of(method, 20), from(f));
    const auto ten = replay_search(spec_of(method, 10), from(f));
    ASSERT_GT(twenty.asked.size(), 10u);
    EXPECT_EQ(ten.asked, first(twenty.asked, 10));
    EXPECT_TRUE(ten.finished);
    EXPECT_EQ(ten.why, "budget of 10 points spent");
    // Extending the budget to 20 reuses the ten done: the next point is the 11th.
    const auto extended = replay_search(spec_of(method, 20), from_known(f, ten.asked));
    EXPECT_EQ(extended.pending, std::vector<double>{twenty.asked[10]});
  }
}

TEST(Search, RepeatedPointsAreLookedUpOnceAndNotCounted) {
  // A tolerance far below the points' 6-digit rounding: dlib narrows its bracket in unrounded
  // coordinates, evaluating rounded points it has seen again (65 evaluations of 26 points).
  auto spec = spec_of(SearchMethod::brent, 300);
  spec.tolerance = 1e-12;
  std::map<double, int> calls;
  const auto counting = [&](double x) -> std::optional<PointValue> {
    ++calls[x];
    return PointValue{false, std::pow(x - 7.30000047, 2)};
  };
  const auto state = replay_search(spec, counting);
  EXPECT_EQ(state.why.rfind("converged", 0), 0u) << state.why;
  EXPECT_EQ(calls.size(), state.asked.size());
  for (const auto& [x, n] : calls) EXPECT_EQ(n, 1) << x;
  EXPECT_EQ(std::set<double>(state.asked.begin(), state.asked.end()).size(), state.asked.size());
  // A budget of exactly the distinct points still converges: repeats cost nothing.
  spec.budget = static_cast<int>(state.asked.size());
  calls.clear();
  const auto exact = replay_search(spec, counting);
  EXPECT_EQ(exact.asked, state.asked);
  EXPECT_EQ(exact.why, state.why);
}

TEST(Search, PointsAreRoundedToSixSignificantDigits) {
  EXPECT_EQ(rounded_point(7.30000047), 7.3);
  EXPECT_EQ(rounded_point(12.3456789), 12.3457);
  EXPECT_EQ(rounded_point(0.000123456789), 0.000123457);
  EXPECT_EQ(rounded_point(20), 20);
  for (const auto method : both_methods) {
    std::vector<double> seen;
    replay_search(spec_of(method), [&](double x) -> std::optional<PointValue> {
      seen.push_back(x);
      return PointValue{false, std::pow(x - 7.3, 2)};
    });
    for (const double x : seen) EXPECT_EQ(x, rounded_point(x));
  }
}

// The value told for a failed point, per search.hpp: worst + max(1, worst - best) over the
// values told before it, 1e30 before any. A run where that point fails asks exactly what a
// run told that value instead asks.
TEST(Search, AFailedPointIsToldAsTheDocumentedPenalty) {
  const auto f = quadratic(7.3);
  for (const auto method : both_methods) {
    const auto run = replay_search(spec_of(method), from(f));
    for (size_t failed = 0; failed < 3; ++failed) {
      SCOPED_TRACE(std::string(to_string(method)) + ", point " + std::to_string(failed));
      double told = 1e30;
      if (failed > 0) {
        double worst = f(run.asked[0]), best = worst;
        for (size_t i = 1; i < failed; ++i) {
          worst = std::max(worst, f(run.asked[i]));
          best = std::min(best, f(run.asked[i]));
        }
        told = worst + std::max(1.0, worst - best);
      }
      const double x_failed = run.asked[failed];
      const auto failing = replay_search(spec_of(method), [&](double x) {
        return std::optional<PointValue>(PointValue{x == x_failed, f(x)});
      });
      const auto penalised = replay_search(spec_of(method), [&](double x) {
        return std::optional<PointValue>(PointValue{false, x == x_failed ? told : f(x)});
      });
      EXPECT_EQ(failing.asked, penalised.asked);
      ASSERT_TRUE(failing.best.has_value());
      EXPECT_NE(best_x(failing), x_failed);
      EXPECT_NEAR(best_x(failing), 7.3, 0.1);
    }
  }
}

TEST(Search, ANonFiniteValueCountsAsFailed) {
  const auto f = quadratic(7.3);
  for (const auto method : both_methods) {
    const double bad = replay_search(spec_of(method), from(f)).asked.at(1);
    const auto nan = replay_search(spec_of(method), [&](double x) {
      return std::optional<PointValue>(PointValue{false, x == bad ? std::nan("") : f(x)});
    });
    const auto failed = replay_search(spec_of(method), [&](double x) {
      return std::optional<PointValue>(PointValue{x == bad, f(x)});
    });
    EXPECT_EQ(nan.asked, failed.asked);
    EXPECT_EQ(nan.best, failed.best);
    EXPECT_NE(best_x(nan), bad);
  }
}

TEST(Search, AFailingRegionIsAvoided) {
  const auto f = quadratic(7.3);
  for (const auto method : both_methods) {
    SCOPED_TRACE(std::string(to_string(method)));
    const auto state = replay_search(spec_of(method), [&](double x) {
      return std::optional<PointValue>(PointValue{x > 15, f(x)});
    });
    EXPECT_TRUE(state.finished);
    EXPECT_NEAR(best_x(state), 7.3, 0.1);
  }
}

TEST(Search, EveryPointFailedHasNoBest) {
  for (const auto method : both_methods) {
    const auto state = replay_search(spec_of(method), [](double) {
      return std::optional<PointValue>(PointValue{true, 0});
    });
    EXPECT_TRUE(state.finished);
    EXPECT_FALSE(state.best.has_value());
    EXPECT_LE(state.asked.size(), 20u);
  }
}

TEST(Search, BestIsTheLowestKnownValueFirstOnTies) {
  for (const auto method : both_methods) {
    const auto flat = replay_search(spec_of(method), from([](double) { return 1.0; }));
    EXPECT_EQ(flat.best, std::optional<size_t>(0));
    // Only known values count: with the best point of the run still pending, best is another.
    const auto f = quadratic(7.3);
    const auto run = replay_search(spec_of(method), from(f));
    const size_t k = *run.best;  // the replay knowing the points before it
    const auto replay = replay_search(spec_of(method), from_known(f, first(run.asked, k)));
    ASSERT_TRUE(replay.best.has_value());
    EXPECT_LT(*replay.best, k);
    for (size_t i = 0; i < k; ++i) EXPECT_LE(f(replay.asked[*replay.best]), f(run.asked[i]));
  }
}

TEST(Search, NothingKnownAsksTheFirstPoint) {
  const auto brent = replay_search(spec_of(SearchMethod::brent),
                                   [](double) { return std::optional<PointValue>(); });
  EXPECT_EQ(brent.asked, std::vector<double>{1});
  EXPECT_EQ(brent.pending, std::vector<double>{1});
  EXPECT_FALSE(brent.finished);
  EXPECT_FALSE(brent.best.has_value());
  EXPECT_TRUE(brent.why.empty());
}

TEST(Search, AnInvalidSpecThrows) {
  const auto f = from(quadratic(7.3));
  for (const auto method : both_methods) {
    auto spec = spec_of(method);
    EXPECT_NO_THROW(replay_search(spec, f));
    spec.hi = spec.lo;
    EXPECT_THROW(replay_search(spec, f), std::invalid_argument);
    spec = spec_of(method);
    spec.lo = std::nan("");
    EXPECT_THROW(replay_search(spec, f), std::invalid_argument);
    spec = spec_of(method);
    spec.tolerance = 0;
    EXPECT_THROW(replay_search(spec, f), std::invalid_argument);
    spec = spec_of(method);
    spec.budget = 0;
    EXPECT_THROW(replay_search(spec, f), std::invalid_argument);
    spec = spec_of(method);
    spec.parallel = 0;
    EXPECT_THROW(replay_search(spec, f), std::invalid_argument);
  }
}

TEST(Search, NamesRoundTrip) {
  for (const auto method : both_methods)
    EXPECT_EQ(search_method_from_string(to_string(method)), method);
  for (const auto metric : {SearchMetric::val_loss, SearchMetric::val_ppl, SearchMetric::ratio,
                            SearchMetric::mean_lambda, SearchMetric::last_in_block})
    EXPECT_EQ(search_metric_from_string(to_string(metric)), metric);
  EXPECT_FALSE(search_method_from_string("golden"));
  EXPECT_FALSE(search_metric_from_string("ppl"));
}

// --- objective_value ---

SeedFigures seed(double val_loss, std::optional<double> baseline = std::nullopt,
                 double mean_lambda = 0, std::optional<double> last_in_block = std::nullopt) {
  return {val_loss, baseline, mean_lambda, last_in_block};
}

SearchObjective objective(SearchMetric metric, bool maximize = false,
                          std::optional<double> max_ratio = std::nullopt) {
  SearchObjective o;
  o.metric = metric;
  o.maximize = maximize;
  o.max_ratio = max_ratio;
  return o;
}

const struct ValueCase {
  const char* name;
  SearchObjective objective;
  std::vector<SeedFigures> seeds;
  std::optional<double> expected;
} value_cases[] = {
    {"val_loss: the mean over seeds", objective(SearchMetric::val_loss), {seed(2), seed(4)}, 3},
    {"val_ppl: the mean of exp",
     objective(SearchMetric::val_ppl),
     {seed(2), seed(4)},
     (std::exp(2) + std::exp(4)) / 2},
    {"ratio: ppl over the same seed's baseline",
     objective(SearchMetric::ratio),
     {seed(3, 2.5), seed(3, 3)},
     (std::exp(0.5) + 1) / 2},
    {"maximize mean_lambda: negated",
     objective(SearchMetric::mean_lambda, true),
     {seed(5, {}, 0.25), seed(5, {}, 0.75)},
     -0.5},
    {"maximize last_in_block: negated",
     objective(SearchMetric::last_in_block, true),
     {seed(5, {}, 0, 0.5), seed(5, {}, 0, 0.7)},
     -0.6},
    {"minimize last_in_block", objective(SearchMetric::last_in_block), {seed(5, {}, 0, 0.4)}, 0.4},
    {"no seeds", objective(SearchMetric::val_loss), {}, std::nullopt},
    {"ratio without a baseline",
     objective(SearchMetric::ratio),
     {seed(3, 2), seed(3)},
     std::nullopt},
    {"last_in_block without head metrics",
     objective(SearchMetric::last_in_block),
     {seed(3, {}, 0, 0.5), seed(3)},
     std::nullopt},
    {"a constraint without a baseline",
     objective(SearchMetric::mean_lambda, true, 1.1),
     {seed(3, {}, 0.5)},
     std::nullopt},
    {"feasible: the value itself",
     objective(SearchMetric::mean_lambda, true, 1.05),
     {seed(3, 3, 0.9)},
     -0.9},
    {"at the bound: feasible",
     objective(SearchMetric::mean_lambda, true, 1.0),
     {seed(3, 3, 0.9)},
     -0.9},
    {"infeasible, maximised: 0 + excess",
     objective(SearchMetric::mean_lambda, true, 1.05),
     {seed(3.1, 3, 0.9)},
     std::exp(0.1) - 1.05},
    {"infeasible ratio: the ratio itself",
     objective(SearchMetric::ratio, false, 1.05),
     {seed(3.1, 3)},
     std::exp(0.1)},
    {"infeasible val_ppl: r * max base + excess",
     objective(SearchMetric::val_ppl, false, 1.05),
     {seed(3.1, 3), seed(3.6, 3.5)},
     1.05 * std::exp(3.5) + std::exp(0.1) - 1.05},
    {"infeasible val_loss: log r + mean base + excess",
     objective(SearchMetric::val_loss, false, 1.05),
     {seed(3.1, 3), seed(3.6, 3.5)},
     std::log(1.05) + 3.25 + std::exp(0.1) - 1.05},
    {"infeasible, minimised lambda: 1 + excess",
     objective(SearchMetric::mean_lambda, false, 1.05),
     {seed(3.1, 3, 0.2)},
     1 + std::exp(0.1) - 1.05},
};

TEST(SearchObjective, ValuesFollowTheFormula) {
  for (const auto& c : value_cases) {
    const auto got = objective_value(c.objective, c.seeds);
    ASSERT_EQ(got.has_value(), c.expected.has_value()) << c.name;
    if (got) {
      EXPECT_NEAR(*got, *c.expected, 1e-12) << c.name;
    }
  }
}

TEST(SearchObjective, NeedsABaselineForTheRatio) {
  EXPECT_TRUE(objective(SearchMetric::ratio).needs_baseline());
  EXPECT_TRUE(objective(SearchMetric::mean_lambda, true, 1.1).needs_baseline());
  EXPECT_FALSE(objective(SearchMetric::val_ppl).needs_baseline());
}

// Points sharing two seeds' baselines, their ratio and metrics varied over a grid: for every
// metric and direction, each feasible value is below each infeasible one, and an infeasible
// point's value grows with its excess.
TEST(SearchObjective, AnyFeasiblePointBeatsAnyInfeasibleOne) {
  const double r = 1.1, base[] = {3.0, 3.6};
  for (const auto metric : {SearchMetric::val_loss, SearchMetric::val_ppl, SearchMetric::ratio,
                            SearchMetric::mean_lambda, SearchMetric::last_in_block})
    for (const bool maximize : {false, true}) {
      SCOPED_TRACE(std::string(to_string(metric)) + (maximize ? " maximised" : " minimised"));
      const auto o = objective(metric, maximize, r);
      double worst_feasible = -INFINITY;
      double best_infeasible = INFINITY;
      for (const double locality : {0.0, 0.5, 1.0})
        for (const double d0 : {-0.5, 0.0, 0.05, 0.09, 0.2})  // log ratio of seed 0
          for (const double d1 : {-0.5, 0.0, 0.05, 0.09, 0.2}) {
            const std::vector<SeedFigures> seeds = {
                seed(base[0] + d0, base[0], locality, locality),
                seed(base[1] + d1, base[1], 1 - locality, 1 - locality)};
            const double ratio = (std::exp(d0) + std::exp(d1)) / 2;
            const double v = *objective_value(o, seeds);
            if (ratio <= r)
              worst_feasible = std::max(worst_feasible, v);
            else
              best_infeasible = std::min(best_infeasible, v);
          }
      EXPECT_LT(worst_feasible, best_infeasible);
      double previous = -INFINITY;
      for (const double d : {0.1, 0.2, 0.4, 0.8}) {  // ratio e^d > 1.1 and growing
        const double v = *objective_value(
            o, {seed(base[0] + d, base[0], 0.5, 0.5), seed(base[1] + d, base[1], 0.5, 0.5)});
        EXPECT_GT(v, previous) << d;
        previous = v;
      }
    }
}

// The trade-off searched for: the largest locality whose ratio stays within 10 % of the
// baseline. Locality x / 20 grows with x, the ratio 1 + 0.01 (x - 1) too: the optimum is
// the constraint's boundary, x = 11, where the objective jumps from -0.55 to the penalty.
TEST(SearchObjective, TheConstrainedOptimumIsFoundAtTheBoundary) {
  const auto o = objective(SearchMetric::mean_lambda, true, 1.1);
  const auto value_of = [&](double x) {
    const auto figures = seed(3 + std::log(1 + 0.01 * (x - 1)), 3, x / 20);
    return std::optional<PointValue>(PointValue{false, *objective_value(o, {figures})});
  };
  for (const auto method : both_methods) {
    SCOPED_TRACE(std::string(to_string(method)));
    auto spec = spec_of(method);
    spec.objective = o;
    const auto state = replay_search(spec, value_of);
    EXPECT_EQ(state.asked.size(), 20u);
    EXPECT_LE(best_x(state), 11);
    EXPECT_NEAR(best_x(state), 11, 0.05);
  }
}

}  // namespace
}  // namespace locsweep
