#include "orchestrator/search_feed.hpp"

#include "results/search_progress.hpp"

namespace locsweep {

SearchFeed::SearchFeed(ResultsStore& store, const SweepSpec& spec, int64_t sweep_id,
                       std::string artifacts_root)
    : store_(store), spec_(spec), sweep_id_(sweep_id), artifacts_root_(std::move(artifacts_root)) {}

std::vector<TrialRecord> SearchFeed::operator()() {
  const SearchProgress progress = search_progress(spec_, &store_.db());
  std::vector<PlannedTrial> trials;
  for (const SearchPoint& point : progress.points)
    for (const PlannedTrial& t : point.trials) trials.push_back(t);
  return store_.add_trials(sweep_id_, trials, artifacts_root_);
}

}  // namespace locsweep
