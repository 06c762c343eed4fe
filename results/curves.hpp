// The loss curves of a sweep in long format (`locsweep results --curves`), for pandas: one
// record per trial, split, step and metric, with the trial's grid values as columns:
//   sweep, trial_hash, label, <each grid key of the selected trials>, step, split, metric, value
// metric is `loss` (train and val), `lr`, `tokens_per_s` and `penalty` (train; each where
// recorded). Values are exact (they read back as the doubles in step_metrics); a trial
// without a value for a grid key has an empty cell (CSV) or null (JSON). Streamed: a sweep's
// curves may not fit in memory as one string. docs/results-schema.md, "Exports for pandas".
#pragma once

#include <cstdio>

#include "results/sqlite.hpp"
#include "results/table.hpp"

namespace locsweep {

// Writes the curves of the trials `query` selects (its sweep and --where filters; its sort
// is ignored: plan order) as CSV or JSON (an array of records) to `out`. InputError for
// another format and the errors of select_trials.
void write_curves(Database& db, const ResultsQuery& query, TableFormat format, std::FILE* out);

}  // namespace locsweep
