#include "search/search.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <deque>
#include <stdexcept>
#include <utility>

#include <dlib/global_optimization.h>
#include <dlib/optimization.h>

namespace locsweep {

namespace {

constexpr std::array<std::pair<SearchMethod, std::string_view>, 2> kMethodNames = {{
    {SearchMethod::brent, "brent"},
    {SearchMethod::lipo, "lipo"},
}};
constexpr std::array<std::pair<SearchMetric, std::string_view>, 5> kMetricNames = {{
    {SearchMetric::val_loss, "val_loss"},
    {SearchMetric::val_ppl, "val_ppl"},
    {SearchMetric::ratio, "ratio"},
    {SearchMetric::mean_lambda, "mean_lambda"},
    {SearchMetric::last_in_block, "last_in_block"},
}};

template <typename Enum, size_t N>
std::string_view name_of(const std::array<std::pair<Enum, std::string_view>, N>& table, Enum e) {
  for (const auto& [value, name] : table)
    if (value == e) return name;
  return "?";
}

template <typename Enum, size_t N>
std::optional<Enum> value_of(const std::array<std::pair<Enum, std::string_view>, N>& table,
                             std::string_view text) {
  for (const auto& [value, name] : table)
    if (name == text) return value;
  return std::nullopt;
}

}  // namespace

std::string_view to_string(SearchMethod method) {
  return name_of(kMethodNames, method);
}
std::optional<SearchMethod> search_method_from_string(std::string_view text) {
  return value_of(kMethodNames, text);
}
std::string_view to_string(SearchMetric metric) {
  return name_of(kMetricNames, metric);
}
std::optional<SearchMetric> search_metric_from_string(std::string_view text) {
  return value_of(kMetricNames, text);
}

bool SearchObjective::needs_baseline() const {
  return metric == SearchMetric::ratio || max_ratio.has_value();
}

double rounded_point(double x) {
  if (!std::isfinite(x) || x == 0) return x;
  char text[32];
  std::snprintf(text, sizeof text, "%.6g", x);
  return std::strtod(text, nullptr);
}

namespace {

// The metric of one seed, nothing when the seed lacks a figure it needs.
std::optional<double> metric_of(SearchMetric metric, const SeedFigures& seed) {
  switch (metric) {
    case SearchMetric::val_loss:
      return seed.val_loss;
    case SearchMetric::val_ppl:
      return std::exp(seed.val_loss);
    case SearchMetric::ratio:
      if (!seed.baseline_val_loss) return std::nullopt;
      return std::exp(seed.val_loss - *seed.baseline_val_loss);
    case SearchMetric::mean_lambda:
      return seed.mean_lambda;
    case SearchMetric::last_in_block:
      return seed.last_in_block;
  }
  return std::nullopt;
}

// The mean over the seeds of a metric, nothing when a seed lacks it (or there are none).
std::optional<double> mean_of(SearchMetric metric, const std::vector<SeedFigures>& seeds) {
  if (seeds.empty()) return std::nullopt;
  double sum = 0;
  for (const auto& seed : seeds) {
    const auto m = metric_of(metric, seed);
    if (!m) return std::nullopt;
    sum += *m;
  }
  return sum / static_cast<double>(seeds.size());
}

// An upper bound on the value of every feasible point (mean ratio <= r), the same for every
// point of a search (the points share their seeds, so their baselines): see search.hpp.
double feasible_bound(const SearchObjective& objective, const std::vector<SeedFigures>& seeds) {
  const double r = *objective.max_ratio;
  if (objective.maximize) return 0;  // every metric is >= 0: -mean <= 0
  switch (objective.metric) {
    case SearchMetric::mean_lambda:
    case SearchMetric::last_in_block:
      return 1;  // in [0, 1]
    case SearchMetric::ratio:
      return r;
    case SearchMetric::val_ppl: {
      // mean(ppl_s) = mean(ratio_s * base_s) <= max(base) * mean(ratio_s) <= max(base) * r
      double max_base = 0;
      for (const auto& seed : seeds)
        max_base = std::max(max_base, std::exp(*seed.baseline_val_loss));
      return r * max_base;
    }
    case SearchMetric::val_loss: {
      // mean(loss_s) = mean(log ratio_s) + mean(base_loss_s) <= log r + mean(base_loss_s)
      double sum = 0;
      for (const auto& seed : seeds) sum += *seed.baseline_val_loss;
      return std::log(r) + sum / static_cast<double>(seeds.size());
    }
  }
  return 0;
}

}  // namespace

std::optional<double> objective_value(const SearchObjective& objective,
                                      const std::vector<SeedFigures>& seeds) {
  const auto mean = mean_of(objective.metric, seeds);
  if (!mean) return std::nullopt;
  const double value = objective.maximize ? -*mean : *mean;
  if (!objective.max_ratio) return value;
  const auto ratio = mean_of(SearchMetric::ratio, seeds);
  if (!ratio) return std::nullopt;
  if (*ratio <= *objective.max_ratio) return value;
  return feasible_bound(objective, seeds) + (*ratio - *objective.max_ratio);
}

namespace {

// Ends a replay at the first point whose value is not known yet (private to this file).
struct UnknownPoint {
  double x;
};
// Ends a replay when the method asks for a new point and the budget is spent.
struct BudgetSpent {};

// Told for a failed point before any value was told: no value is known to compare it with,
// so it is judged absolutely, far above any loss, perplexity, ratio or penalty a trial gives.
constexpr double kFirstFailureValue = 1e30;
// brent: evaluations (repeats included) before dlib gives up on narrowing the bracket.
constexpr long kMaxBrentEvaluations = 1000;
// lipo: dlib's random sampling seeded the same in every replay (a replay is the run).
constexpr time_t kLipoSeed = 16;
// lipo: points asked again (already evaluated) before the replay stops asking.
constexpr int kMaxLipoRepeats = 100;

std::string number(double x) {
  char text[32];
  std::snprintf(text, sizeof text, "%g", x);
  return text;
}

// What one replay has asked and learned: each distinct (rounded) point looked up once, the
// budget counted in distinct points, the values told to the method.
class Ledger {
 public:
  Ledger(const SearchSpec& spec, const std::function<std::optional<PointValue>(double x)>& value_of)
      : spec_(spec), value_of_(value_of) {}

  // The index of point x (rounded) in asked(), asking it if it is new; throws BudgetSpent
  // for a new point once the budget is spent.
  size_t ask(double x) {
    x = rounded_point(x);
    for (size_t i = 0; i < asked_.size(); ++i)
      if (asked_[i] == x) {
        ++repeats_;
        return i;
      }
    if (asked_.size() >= static_cast<size_t>(spec_.budget)) throw BudgetSpent{};
    asked_.push_back(x);
    known_.push_back(value_of_(x));
    told_.push_back(false);
    return asked_.size() - 1;
  }

  bool known(size_t i) const { return known_[i].has_value(); }
  bool told(size_t i) const { return told_[i]; }

  // The value told to the method for point i (known): its value, or for a failed point (or a
  // non-finite value) the worst value told so far plus the larger of 1 and the spread of the
  // values told so far (kFirstFailureValue before any).
  double tell(size_t i) {
    told_[i] = true;
    const PointValue& v = *known_[i];
    if (v.failed || !std::isfinite(v.value)) {
      if (!worst_told_) return kFirstFailureValue;
      return *worst_told_ + std::max(1.0, *worst_told_ - *best_told_);
    }
    worst_told_ = std::max(worst_told_.value_or(v.value), v.value);
    best_told_ = std::min(best_told_.value_or(v.value), v.value);
    return v.value;
  }

  int repeats() const { return repeats_; }

  // The state's asked/best; pending and finished are the method's to say.
  SearchState state() const {
    SearchState state;
    state.asked = asked_;
    for (size_t i = 0; i < asked_.size(); ++i) {
      const auto& v = known_[i];
      if (!v || v->failed || !std::isfinite(v->value)) continue;
      if (!state.best || v->value < known_[*state.best]->value) state.best = i;
    }
    return state;
  }

 private:
  const SearchSpec& spec_;
  const std::function<std::optional<PointValue>(double x)>& value_of_;
  std::vector<double> asked_;
  std::vector<std::optional<PointValue>> known_;  // per asked_ point, looked up once
  std::vector<bool> told_;                        // per asked_ point: told to the method
  std::optional<double> worst_told_, best_told_;  // over the non-failed values told
  int repeats_ = 0;
};

std::string budget_spent(const SearchSpec& spec) {
  return "budget of " + std::to_string(spec.budget) + " points spent";
}

// dlib::find_min_single_variable from the interval's middle, its first steps reaching both
// ends (initial_search_radius = half the interval), until the bracket is narrower than
// spec.tolerance.
SearchState replay_brent(const SearchSpec& spec, Ledger& ledger) {
  auto f = [&](double x) {
    const size_t i = ledger.ask(x);
    if (!ledger.known(i)) throw UnknownPoint{rounded_point(x)};
    return ledger.tell(i);
  };
  std::vector<double> pending;
  bool finished = true;
  std::string why;
  try {
    double x = spec.lo + (spec.hi - spec.lo) / 2;
    dlib::find_min_single_variable(f, x, spec.lo, spec.hi, spec.tolerance, kMaxBrentEvaluations,
                                   (spec.hi - spec.lo) / 2);
    why = "converged at " + number(rounded_point(x)) + " (bracket narrower than " +
          number(spec.tolerance) + ")";
  } catch (const UnknownPoint& unknown) {
    pending = {unknown.x};
    finished = false;
  } catch (const BudgetSpent&) {
    why = budget_spent(spec);
  } catch (const dlib::optimize_single_variable_failure&) {
    why = "stopped after " + std::to_string(kMaxBrentEvaluations) +
          " evaluations without the bracket narrowing to " + number(spec.tolerance);
  }
  SearchState state = ledger.state();
  state.pending = std::move(pending);
  state.finished = finished;
  state.why = std::move(why);
  return state;
}

// dlib::global_function_search (it maximises: told -value), seeded, up to spec.parallel
// requests outstanding, told strictly in the order they were asked. A point asked again
// after it was told is told again at once (it costs no budget and no slot); asked again
// while still outstanding, it waits its turn behind the first ask.
SearchState replay_lipo(const SearchSpec& spec, Ledger& ledger) {
  dlib::matrix<double, 0, 1> lower(1), upper(1);
  lower(0) = spec.lo;
  upper(0) = spec.hi;
  dlib::global_function_search search(dlib::function_spec(lower, upper));
  search.set_seed(kLipoSeed);
  struct Outstanding {
    dlib::function_evaluation_request request;
    size_t index;
  };
  std::deque<Outstanding> outstanding;
  const auto parallel = static_cast<size_t>(spec.parallel);
  std::string why;
  for (;;) {
    while (why.empty() && outstanding.size() < parallel) {
      if (ledger.repeats() >= kMaxLipoRepeats) {
        why = "stopped: " + std::to_string(kMaxLipoRepeats) +
              " points asked were evaluated already (converged to the points' rounding)";
        break;
      }
      auto request = search.get_next_x();
      try {
        const size_t i = ledger.ask(request.x()(0));
        if (ledger.told(i))  // asked again: its value is the method's already
          request.set(-ledger.tell(i));
        else  // new, or asked again while outstanding: told in its turn
          outstanding.push_back({std::move(request), i});
      } catch (const BudgetSpent&) {
        why = budget_spent(spec);  // the request is dropped: as if never issued
      }
    }
    if (outstanding.empty() || !ledger.known(outstanding.front().index)) break;
    outstanding.front().request.set(-ledger.tell(outstanding.front().index));
    outstanding.pop_front();
  }
  SearchState state = ledger.state();
  for (const auto& o : outstanding) {
    const double x = state.asked[o.index];
    if (!ledger.known(o.index) &&
        std::find(state.pending.begin(), state.pending.end(), x) == state.pending.end())
      state.pending.push_back(x);
  }
  state.finished = state.pending.empty();
  if (state.finished) state.why = std::move(why);
  return state;
}

}  // namespace

SearchState replay_search(const SearchSpec& spec,
                          const std::function<std::optional<PointValue>(double x)>& value_of) {
  if (!(std::isfinite(spec.lo) && std::isfinite(spec.hi) && spec.lo < spec.hi) ||
      !(spec.tolerance > 0) || spec.budget < 1 || spec.parallel < 1)
    throw std::invalid_argument(
        "replay_search: a search of " + spec.key + " on [" + number(spec.lo) + ", " +
        number(spec.hi) + "], budget " + std::to_string(spec.budget) + ", tolerance " +
        number(spec.tolerance) + ", parallel " + std::to_string(spec.parallel) +
        " (the sweep spec's validation lets none of these through)");
  Ledger ledger(spec, value_of);
  switch (spec.method) {
    case SearchMethod::brent:
      return replay_brent(spec, ledger);
    case SearchMethod::lipo:
      return replay_lipo(spec, ledger);
  }
  return ledger.state();
}

}  // namespace locsweep
