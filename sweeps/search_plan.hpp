// A search's trials (SweepSpec::search, search/search.hpp). A point x is the shared keys with
// search.key = x, once per seed of the sweep, planned like a grid's trials (sweeps/plan.hpp:
// checked, identified by content, its base resolved), its assignment {"search": {KEY: x}}.
// An objective that needs the ratio (as metric or constraint) adds the distributed baselines:
// the shared keys with locality.schedule: distributed, once per seed, assignment
// {"locality.schedule": "distributed"}; plan_sweep() lists them after the grid.
//
// What a search has asked so far is derived from the results database
// (results/search_progress.hpp), so the plan `run` registers is the fixed trials + the
// baselines + every point asked so far: a rerun registers the same trials, and the
// coordinator is fed the next points while it runs (orchestrator/search_feed.hpp).
#pragma once

#include <vector>

#include "sweeps/plan.hpp"
#include "sweeps/sweep_spec.hpp"

namespace locsweep {

// The trials of point x (rounded_point(x)), one per seed. SpecError (at search.interval) when
// x makes the trial invalid.
std::vector<PlannedTrial> plan_search_point(const SweepSpec& spec, TrialPlanner& planner, double x);
// The distributed baselines, one per seed; none unless the objective needs the ratio.
std::vector<PlannedTrial> plan_search_baselines(const SweepSpec& spec, TrialPlanner& planner);

// `plan` (plan_sweep(spec), which holds the baselines) with the trials of every point in
// `asked` appended, in order, duplicates merged.
Plan with_search_points(const SweepSpec& spec, Plan plan, const std::vector<double>& asked,
                        InputIdentity identity = InputIdentity::content);

}  // namespace locsweep
