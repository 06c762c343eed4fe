// Searching one numeric trial key (the schedule exponent beta, kappa, lambda_max, ...) on a
// bracketed interval, instead of a grid. A search is a pure function of what is known: it is
// replayed from its first point every time, each point it asks for looked up with
// `value_of`, and it stops at the first point whose value is not known yet. So its state is
// derived from the results database (every evaluated point is an ordinary content-addressed
// trial), survives kill -9, and extending its budget reuses every point already evaluated:
// the first N points asked never depend on the budget.
//
// Methods (maintained optimisers from dlib, not our own):
//   brent  dlib::find_min_single_variable on [lo, hi] from the middle, its first points lo, hi
//          and the middle: it brackets the minimum (halving towards an end when the minimum
//          is there), then takes safeguarded parabolic steps (never nearer than a tenth of a
//          side to a known point; bisecting a side ten times longer than the other) until the
//          bracket is narrower than `tolerance`. One point in flight; assumes one minimum.
//   lipo   dlib::global_function_search (MaxLIPO + trust region): global on [lo, hi], up to
//          `parallel` points in flight, so parallel ranks stay busy; values are told in the
//          order the points were asked (not the order they finished), which keeps a replay
//          identical to the run it replays. It never converges: it runs its budget.
// Points are rounded (rounded_point()) before they are looked up; a point asked again after
// rounding is looked up once and costs no budget. A replay costs next to nothing for brent
// and O(points^2) for lipo (0.2 s at 100 points). The points asked depend on dlib's code:
// a dlib upgrade may ask other points after the first, so a search replayed then re-runs.
// Both minimise; a maximised objective is negated by the caller (objective_value()).
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace locsweep {

enum class SearchMethod { brent, lipo };
std::string_view to_string(SearchMethod method);
std::optional<SearchMethod> search_method_from_string(std::string_view text);
inline constexpr std::string_view kSearchMethodChoices = "brent or lipo";

// What a point's trials are judged by (per seed, then averaged over the seeds).
enum class SearchMetric {
  val_loss,       // the trial's final validation loss
  val_ppl,        // exp(val_loss)
  ratio,          // val_ppl / the distributed baseline's val_ppl (same seed, same shared keys)
  mean_lambda,    // the mean over layers of the schedule's lambda_l (from the configuration)
  last_in_block,  // the last layer's in-block attention mass, mean over heads (head metrics)
};
std::string_view to_string(SearchMetric metric);
std::optional<SearchMetric> search_metric_from_string(std::string_view text);
inline constexpr std::string_view kSearchMetricChoices =
    "val_loss, val_ppl, ratio, mean_lambda or last_in_block";

// minimize: METRIC, or maximize: METRIC (subject_to: {ratio: R}: only points whose ratio is
// at most R count; the others are penalised, see objective_value()).
struct SearchObjective {
  SearchMetric metric = SearchMetric::val_ppl;
  bool maximize = false;
  std::optional<double> max_ratio;  // the constraint ratio <= max_ratio
  bool needs_baseline() const;      // ratio as metric or constraint: baseline trials are run
};

struct SearchSpec {
  std::string key;  // dotted trial key; locality.schedule.beta is the polynomial's exponent
  double lo = 0, hi = 1;
  SearchMethod method = SearchMethod::brent;
  SearchObjective objective;
  int budget = 20;          // points at most (each runs once per seed)
  double tolerance = 0.01;  // brent: stop once the bracket is this narrow (in the key's units)
  int parallel = 1;         // lipo: points in flight (brent: always 1)
};

// One seed's figures of an evaluated point (and of its baseline, when the objective needs it).
struct SeedFigures {
  double val_loss = 0;
  std::optional<double> baseline_val_loss;  // the distributed baseline of the same seed
  double mean_lambda = 0;
  std::optional<double> last_in_block;  // absent when the trial recorded no head metrics
};

// The value the search minimises for a point from its seeds' figures: the metric's mean over
// seeds m, negated when maximised (v = m or v = -m; ratio_s = exp(val_loss_s -
// baseline_val_loss_s)). With the constraint, a point whose mean ratio R exceeds max_ratio r
// gets a value worse than any feasible point (R <= r) could have, growing with the excess:
//   v = B + (R - r), where B bounds every feasible value (the same for every point, whose
//   seeds and so baselines are shared; b_s = baseline_val_loss_s):
//     maximize anything                 B = 0    (every metric is >= 0, so -m <= 0)
//     minimize mean_lambda/last_in_block B = 1    (both lie in [0, 1])
//     minimize ratio                    B = r    (so v = R: the ratio itself)
//     minimize val_ppl                  B = r * max_s exp(b_s)
//     minimize val_loss                 B = log(r) + mean_s b_s   (Jensen)
// so the search moves back into the feasible region. Nothing for no seeds, or when a seed
// lacks a figure the objective needs (its baseline; head metrics for last_in_block): such a
// point cannot be judged.
std::optional<double> objective_value(const SearchObjective& objective,
                                      const std::vector<SeedFigures>& seeds);

// What the search knows of a point: a value, or that one of its trials failed for good. A
// failed point (or a non-finite value: a diverged trial) is told to the method as worse than
// every value told before it: worst + max(1, worst - best) over the values told so far, or
// 1e30 when none was told yet. It is never `best`.
struct PointValue {
  bool failed = false;
  double value = 0;  // objective_value(); meaningless when failed
};

struct SearchState {
  std::vector<double> asked;    // every point asked so far, in order (rounded_point())
  std::vector<double> pending;  // asked but not known yet: the trials to run now
  bool finished = false;        // converged or budget spent, and nothing pending
  std::string why;              // "converged (bracket 0.0093 wide)", "budget of 20 points spent"
  std::optional<size_t> best;   // index into `asked` of the best known value (not failed)
};

// Replays the search from its start (see the header comment). `value_of(x)`: what is known
// of point x, nothing while its trials have not all ended; it is asked once per point, in
// the order the points are asked. `spec` as the sweep spec validates it (finite lo < hi,
// budget >= 1, tolerance > 0, parallel >= 1); std::invalid_argument otherwise.
SearchState replay_search(const SearchSpec& spec,
                          const std::function<std::optional<PointValue>(double x)>& value_of);

// A point as trials record it: rounded to 6 significant digits, so it prints, hashes and
// compares stably (the methods are told the value at the rounded point).
double rounded_point(double x);

}  // namespace locsweep
