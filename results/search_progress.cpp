#include "results/search_progress.hpp"

#include <map>

#include "sweeps/search_plan.hpp"
#include "sweeps/spec_error.hpp"

namespace locsweep {
namespace {

// What the database holds of a trial, by hash: its status (absent: no row) and figures.
struct TrialFacts {
  std::string status = "absent";
  std::optional<double> val_loss;
  std::optional<double> last_in_block;  // the last layer's in-block mass, mean over heads
};

// Reads trials' facts from `db` (nullptr: none recorded), each hash once.
class TrialLookup {
 public:
  explicit TrialLookup(Database* db) {
    if (!db) return;
    trial_.emplace(db->prepare("SELECT status, val_loss FROM trials WHERE hash = ?"));
    heads_.emplace(
        db->prepare("SELECT AVG(in_block_mass) FROM head_metrics WHERE trial_hash = ?1 AND layer = "
                    "(SELECT MAX(layer) FROM head_metrics WHERE trial_hash = ?1)"));
  }

  const TrialFacts& operator()(const std::string& hash) {
    const auto it = known_.find(hash);
    if (it != known_.end()) return it->second;
    TrialFacts facts;
    if (trial_) {
      trial_->bind(1, hash);
      if (trial_->step()) {
        facts.status = trial_->text(0);
        if (!trial_->is_null(1)) facts.val_loss = trial_->real(1);
      }
      trial_->reset();
      if (facts.status == "done") {
        heads_->bind(1, hash);
        if (heads_->step() && !heads_->is_null(0)) facts.last_in_block = heads_->real(0);
        heads_->reset();
      }
    }
    return known_.emplace(hash, std::move(facts)).first->second;
  }

 private:
  std::optional<Statement> trial_, heads_;
  std::map<std::string, TrialFacts> known_;
};

bool ended(const std::string& status) {
  return status != "absent" && status != "pending" && status != "running";
}

double mean_lambda(const TrialConfig& config) {
  const std::vector<double> lambdas = config.locality.schedule.lambdas(config.model.n_layer);
  double sum = 0;
  for (double l : lambdas) sum += l;
  return lambdas.empty() ? 0.0 : sum / static_cast<double>(lambdas.size());
}

// Fills point's statuses, figures and value from the database.
void look_up(SearchPoint& point, const SearchProgress& progress, TrialLookup& lookup) {
  bool all_ended = true, failed = false;
  for (size_t i = 0; i < point.trials.size(); ++i) {
    const TrialFacts& facts = lookup(point.trials[i].hash);
    point.statuses.push_back(facts.status);
    if (!ended(facts.status)) {
      all_ended = false;
      continue;
    }
    if (facts.status != "done" || !facts.val_loss) {  // failed (or ended without a loss)
      failed = true;
      continue;
    }
    SeedFigures figures;
    figures.val_loss = *facts.val_loss;
    figures.mean_lambda = mean_lambda(point.trials[i].config);
    figures.last_in_block = facts.last_in_block;
    if (progress.spec.objective.needs_baseline()) {
      const std::string& status = progress.baseline_statuses.at(i);
      if (!ended(status)) {
        all_ended = false;
        continue;
      }
      const TrialFacts& baseline = lookup(progress.baselines[i].hash);
      if (status != "done" || !baseline.val_loss) {
        failed = true;
        continue;
      }
      figures.baseline_val_loss = *baseline.val_loss;
    }
    point.figures.push_back(figures);
  }
  if (!all_ended) return;
  if (failed) {
    point.value = PointValue{true, 0.0};
    return;
  }
  const std::optional<double> value = objective_value(progress.spec.objective, point.figures);
  point.value = value ? PointValue{false, *value} : PointValue{true, 0.0};
}

}  // namespace

SearchProgress search_progress(const SweepSpec& spec, Database* db, InputIdentity identity) {
  if (!spec.search)
    throw SpecError(spec.file, spec.root.Mark(),
                    "the sweep has no 'search' block (docs/sweep-spec.md, \"Search\")");
  SearchProgress progress;
  progress.spec = *spec.search;
  TrialPlanner planner(spec, identity);
  TrialLookup lookup(db);
  progress.baselines = plan_search_baselines(spec, planner);
  for (const PlannedTrial& t : progress.baselines)
    progress.baseline_statuses.push_back(lookup(t.hash).status);
  std::map<double, SearchPoint> points;  // by x: the replay may ask for a value again
  const auto point_at = [&](double x) -> SearchPoint& {
    x = rounded_point(x);
    auto it = points.find(x);
    if (it != points.end()) return it->second;
    SearchPoint point;
    point.x = x;
    point.trials = plan_search_point(spec, planner, x);
    look_up(point, progress, lookup);
    return points.emplace(x, std::move(point)).first->second;
  };
  progress.state = replay_search(progress.spec, [&](double x) { return point_at(x).value; });
  for (double x : progress.state.asked) progress.points.push_back(point_at(x));
  planner.save_digests();
  return progress;
}

}  // namespace locsweep
