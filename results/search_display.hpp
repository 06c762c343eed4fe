// Showing where a sweep's search stands (results/search_progress.hpp): the one rendering of a
// SearchProgress that `locsweep plan`, `locsweep results` and the HTML report share. A
// SearchView is the progress as rows sorted by the searched key (each point's figures as
// means over its done seeds, the best marked); the text, the ASCII curve, the JSON and the
// report's table and plot are all drawn from it.
//
// Text form (`plan`, `results`):
//
//   search locality.schedule.beta in [1, 20]: brent, minimise val_ppl, budget 20 points,
//     tolerance 0.01, 1 seed per point
//   finished: converged (bracket 0.0093 wide); 12 points evaluated, 0 pending;
//     best locality.schedule.beta = 7.30021 (val_ppl 20.0855)
//      #  locality.schedule.beta  val_ppl  ratio  objective  seeds
//      5                  1.5     ...                         done
//      ...
//   *   9                  7.30021 ...                        done        <- the best
//
// followed (results) by the objective over the key as a small ASCII plot.
#pragma once

#include <cstddef>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "results/search_progress.hpp"
#include "results/sqlite.hpp"

namespace locsweep {

// One point the search asked for, as shown. Figures are means over the point's done seeds.
struct SearchRow {
  size_t order = 0;  // 1-based: when the search asked for it
  double x = 0;
  std::vector<int> seeds;               // per trial, in the sweep's seed order
  std::vector<std::string> hashes;      // per trial
  std::vector<std::string> statuses;    // per trial: pending | running | done | failed | absent
  bool known = false;                   // the search knows its value (every trial ended)
  bool failed = false;                  // known, and one of its trials failed for good
  std::optional<double> value;          // what the search minimises (objective_value)
  std::optional<double> metric;         // the objective's metric, mean over done seeds
  std::optional<double> val_ppl;        // mean over done seeds
  std::optional<double> ratio;          // mean over done seeds; with every seed's baseline
  std::optional<double> last_in_block;  // mean over done seeds that recorded head metrics
  bool infeasible = false;              // constrained: its ratio exceeds subject_to's
  bool best = false;
};

struct SearchBaseline {
  std::string hash;
  int seed = 0;
  std::string status;
};

struct SearchView {
  SearchSpec spec;
  size_t seeds = 1;             // trials per point
  std::vector<SearchRow> rows;  // every asked point, sorted by x
  std::optional<size_t> best;   // index into rows
  size_t evaluated = 0;         // rows whose value is known
  std::vector<double> pending;  // the points to run now, in ask order
  bool finished = false;
  std::string why;  // the replay's reason when finished
  std::vector<SearchBaseline> baselines;
};

SearchView search_view(const SearchProgress& progress);

// "minimise val_ppl", "maximise mean_lambda subject to ratio <= 1.02".
std::string objective_text(const SearchObjective& objective);
// The search as specified: "search KEY in [LO, HI]: METHOD, OBJECTIVE, budget N points, ...".
std::string search_spec_text(const SearchSpec& spec, size_t seeds);
// Finished or not (and why), points evaluated and pending, the best so far.
std::string search_state_text(const SearchView& view);
// The points table's cells, one row per view.rows (in its order): a "*" for the best, the
// order asked, x, the metric when it is neither val_ppl nor ratio, val_ppl, ratio (with a
// baseline; "(over)" past a constraint), the objective's value (when maximised or
// constrained), and the trials' statuses. Missing figures are "-".
struct SearchTable {
  std::vector<std::string> header;
  std::vector<std::vector<std::string>> cells;
};
SearchTable search_points_table(const SearchView& view);
// The points table as aligned text (sorted by x, the best marked with '*'); "" when nothing was
// asked yet.
std::string search_points_text(const SearchView& view);
// The objective's metric over the key as an ASCII plot (`width` x `height` characters of
// plot area): 'o' a point, '@' the best, 'x' an infeasible point; "" with fewer than two
// points with a metric.
std::string search_curve_text(const SearchView& view, int width = 60, int height = 12);
// The spec, state and points together: what `plan` prints.
std::string search_text(const SearchView& view);
// The same as JSON: {"key", "interval", "method", "objective", "budget", ..., "finished",
// "why", "evaluated", "pending", "best", "points": [...sorted by x], "baselines"}. Numbers at
// full precision, missing values null.
nlohmann::json search_json(const SearchView& view);

// The search of a sweep recorded in `db` (its spec as stored, replayed against `db`), or
// nothing when the sweep has no search. A stored spec that no longer parses is an
// InputError saying so.
std::optional<SearchProgress> recorded_search(Database& db, const std::string& sweep);

}  // namespace locsweep
