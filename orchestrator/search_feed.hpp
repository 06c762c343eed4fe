// Feeds a search's points to the coordinator while the sweep runs (CoordinatorOptions::
// more_trials). Each call replays the search against the results database through the
// store's own connection, so the writes of the coordinator's open batch (the trial that just
// settled) are seen; the trials of every point asked so far are registered with the sweep
// (ResultsStore::add_trials: recorded unless known, linked unless linked), and those that are
// new and still to run are returned. Nothing about the search is kept here: a kill -9 loses
// nothing, and the next run's replay asks the same points.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "results/store.hpp"
#include "sweeps/sweep_spec.hpp"

namespace locsweep {

class SearchFeed {
 public:
  // `spec` (with a search) and `store` must outlive the feed.
  SearchFeed(ResultsStore& store, const SweepSpec& spec, int64_t sweep_id,
             std::string artifacts_root);
  // The trials of the search's points that joined the sweep now and may run.
  std::vector<TrialRecord> operator()();

 private:
  ResultsStore& store_;
  const SweepSpec& spec_;
  int64_t sweep_id_;
  std::string artifacts_root_;
};

}  // namespace locsweep
