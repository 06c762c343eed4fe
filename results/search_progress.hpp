// Where a sweep's search stands (search/search.hpp), derived from the results database alone:
// the search is replayed from its first point, each point's trials planned (by content, like
// every trial: sweeps/plan.hpp) and looked up by hash. `run` feeds the pending points to the
// coordinator; `plan`, `results` and the report show the same state. Nothing about a search
// is stored but its trials, so a kill -9 loses nothing and a rerun re-runs nothing done.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "results/sqlite.hpp"
#include "search/search.hpp"
#include "sweeps/plan.hpp"
#include "sweeps/sweep_spec.hpp"

namespace locsweep {

// One point the search asked for.
struct SearchPoint {
  double x = 0;                       // the key's value (rounded_point())
  std::vector<PlannedTrial> trials;   // one per seed, in the sweep's seed order
  std::vector<std::string> statuses;  // per trial: pending | running | done | failed | absent
  std::vector<SeedFigures> figures;   // per done seed
  std::optional<PointValue> value;    // known once every trial ended
};

struct SearchProgress {
  SearchSpec spec;
  SearchState state;                    // the replay's verdict
  std::vector<SearchPoint> points;      // state.asked, in order
  std::vector<PlannedTrial> baselines;  // the distributed baselines (ratio), per seed
  std::vector<std::string> baseline_statuses;
};

// Replays spec.search against `db` (a locsweep results database; nullptr: an empty one,
// which gives the first points). Throws SpecError for a spec without a search.
SearchProgress search_progress(const SweepSpec& spec, Database* db,
                               InputIdentity identity = InputIdentity::content);

}  // namespace locsweep
