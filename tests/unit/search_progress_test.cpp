// Where a search stands, derived from a real results database built through ResultsStore
// (results/search_progress.hpp): a point's value once all its seed trials ended (from the
// trials table, the same seed's baseline, the schedule, the head metrics), failed points,
// pending and absent trials, and a whole brent search driven from the database alone.
#include <gtest/gtest.h>

#include <cmath>

#include "results/search_progress.hpp"
#include "results/store.hpp"
#include "support/temp_dir.hpp"
#include "sweeps/spec_error.hpp"

namespace locsweep {
namespace {

using test_support::TempDir;

// Noop trials whose loss is 3 + 0.05 (beta - 7.3)^2 (a baseline's beta: 0).
SweepSpec noop_search(const std::string& search_extra, const std::string& extra = "") {
  return parse_sweep(
      "name: n\nkind: noop\nlocality: {schedule: quintic}\n"
      "noop: {loss: {key: locality.schedule.beta, center: 7.3, curvature: 0.05, floor: 3}}\n" +
          extra + "search: {key: locality.schedule.beta, interval: [1, 20]" + search_extra + "}\n",
      "<test>", "/");
}

struct Db {
  TempDir dir;
  ResultsStore store;
  int64_t sweep_id = 0, run_id = 0;
  explicit Db(const SweepSpec& spec)
      : store(ResultsStore::open_for_writing((dir / "r.sqlite").string())) {
    sweep_id =
        store.sync_sweep(spec, plan_sweep(spec, InputIdentity::as_written), art(), false).sweep_id;
    RunInfo info;
    info.host = "h";
    info.pid = 1;
    run_id = store.begin_run(sweep_id, info, 30);
  }
  std::string art() const { return (dir / "art").string(); }
  SearchProgress progress(const SweepSpec& spec) {
    return search_progress(spec, &store.db(), InputIdentity::as_written);
  }
  // Ends trial `t` (registered first): done with its synthetic loss (and `heads`), or failed.
  void end(const PlannedTrial& t, bool done = true, std::vector<HeadMetrics> heads = {}) {
    store.add_trials(sweep_id, {t}, art());
    const int64_t attempt = store.start_attempt(t.hash, 1, run_id, AttemptStart{});
    TrialResult r;
    if (done) {
      r.val_loss = *noop_synthetic_loss(t.config);
      r.val_ppl = std::exp(r.val_loss);
      r.val_tokens = 1;
      r.heads = std::move(heads);
    } else {
      r.outcome = Outcome::error;
      r.message = "configured";
    }
    store.finish_attempt(attempt, t.hash, r, done ? TrialStatus::done : TrialStatus::failed, 0);
  }
};

double loss_at(double beta) {
  return 3 + 0.05 * (beta - 7.3) * (beta - 7.3);
}

TEST(SearchProgress, WithoutADatabaseTheFirstPointIsPendingAndAbsent) {
  const SweepSpec spec = noop_search("", "seeds: [0, 1]\n");
  const SearchProgress p = search_progress(spec, nullptr, InputIdentity::as_written);
  ASSERT_EQ(p.points.size(), 1u);
  EXPECT_EQ(p.state.pending, std::vector<double>{p.points[0].x});
  EXPECT_FALSE(p.state.finished);
  EXPECT_EQ(p.points[0].statuses, (std::vector<std::string>{"absent", "absent"}));
  EXPECT_FALSE(p.points[0].value);
  EXPECT_EQ(p.points[0].trials.size(), 2u);
  EXPECT_TRUE(p.baselines.empty());
  EXPECT_THROW(search_progress(parse_sweep("name: x\n", "<t>", "/"), nullptr), SpecError);
}

TEST(SearchProgress, APointIsKnownOnceAllItsSeedsEnded) {
  const SweepSpec spec = noop_search(", objective: val_loss", "seeds: [0, 1]\n");
  Db db(spec);
  SearchProgress p = db.progress(spec);
  const SearchPoint first = p.points.at(0);
  // Registered: pending; one attempt started: running; the point is not known yet.
  EXPECT_EQ(db.store.add_trials(db.sweep_id, first.trials, db.art()).size(), 2u);
  EXPECT_TRUE(db.store.add_trials(db.sweep_id, first.trials, db.art()).empty())
      << "linked already: nothing new";
  db.store.start_attempt(first.trials[1].hash, 1, db.run_id, AttemptStart{});
  p = db.progress(spec);
  EXPECT_EQ(p.points.at(0).statuses, (std::vector<std::string>{"pending", "running"}));
  EXPECT_FALSE(p.points[0].value);
  db.end(first.trials[0]);
  p = db.progress(spec);
  EXPECT_EQ(p.points.at(0).statuses, (std::vector<std::string>{"done", "running"}));
  EXPECT_FALSE(p.points[0].value) << "one seed is still running";
  EXPECT_EQ(p.points.size(), 1u);
  // The running attempt ends (a second one, as the coordinator would record a retry).
  const int64_t attempt = db.store.start_attempt(first.trials[1].hash, 2, db.run_id, {});
  TrialResult r;
  r.val_loss = loss_at(first.x);
  r.val_tokens = 1;
  db.store.finish_attempt(attempt, first.trials[1].hash, r, TrialStatus::done, 0);
  p = db.progress(spec);
  ASSERT_TRUE(p.points.at(0).value);
  EXPECT_FALSE(p.points[0].value->failed);
  EXPECT_DOUBLE_EQ(p.points[0].value->value, loss_at(first.x));
  ASSERT_EQ(p.points[0].figures.size(), 2u);
  // mean_lambda: the schedule's mean over the model's layers (6 by default): quintic at x.
  double sum = 0;
  for (double l : Schedule::polynomial(first.x).lambdas(6)) sum += l;
  EXPECT_DOUBLE_EQ(p.points[0].figures[0].mean_lambda, sum / 6);
  EXPECT_EQ(p.points.size(), 2u) << "the replay asks the next point";
  EXPECT_EQ(p.points[1].statuses, (std::vector<std::string>{"absent", "absent"}));
}

TEST(SearchProgress, AFailedSeedFailsItsPointAndTheSearchGoesOn) {
  const SweepSpec spec = noop_search(", objective: val_loss", "seeds: [0, 1]\n");
  Db db(spec);
  const SearchPoint first = db.progress(spec).points.at(0);
  db.end(first.trials[0]);
  db.end(first.trials[1], false);
  const SearchProgress p = db.progress(spec);
  ASSERT_TRUE(p.points.at(0).value);
  EXPECT_TRUE(p.points[0].value->failed);
  EXPECT_EQ(p.points[0].statuses, (std::vector<std::string>{"done", "failed"}));
  EXPECT_EQ(p.points.size(), 2u);
  EXPECT_FALSE(p.state.best) << "a failed point is never the best";
}

TEST(SearchProgress, ARatioWaitsForTheBaselineOfTheSameSeed) {
  const SweepSpec spec = noop_search(", objective: ratio", "seeds: [0, 1]\n");
  Db db(spec);
  SearchProgress p = db.progress(spec);
  ASSERT_EQ(p.baselines.size(), 2u);
  EXPECT_EQ(p.baseline_statuses, (std::vector<std::string>{"pending", "pending"}))
      << "plan_sweep() plans the baselines, and the sweep registered them";
  const SearchPoint first = p.points.at(0);
  // The last layer's in-block mass is the mean over its heads.
  const std::vector<HeadMetrics> heads = {
      {0, 0, 0.0, 1, 1, 0.2, 1}, {1, 0, 1.0, 1, 1, 0.6, 1}, {1, 1, 1.0, 1, 1, 0.8, 1}};
  for (const PlannedTrial& t : first.trials) db.end(t, true, heads);
  db.end(p.baselines[0]);
  p = db.progress(spec);
  EXPECT_FALSE(p.points.at(0).value) << "seed 1's baseline has not ended";
  EXPECT_EQ(p.baseline_statuses, (std::vector<std::string>{"done", "pending"}));
  db.end(p.baselines[1]);
  p = db.progress(spec);
  ASSERT_TRUE(p.points.at(0).value);
  const double base = loss_at(0);  // a distributed schedule's beta is 0
  EXPECT_NEAR(p.points[0].value->value, std::exp(loss_at(first.x) - base), 1e-12);
  ASSERT_EQ(p.points[0].figures.size(), 2u);
  EXPECT_DOUBLE_EQ(*p.points[0].figures[1].baseline_val_loss, base);
  EXPECT_DOUBLE_EQ(*p.points[0].figures[1].last_in_block, 0.7);
}

// The whole search, driven from the database: every point the replay asks is run (its
// synthetic loss recorded) until it finishes.
TEST(SearchProgress, BrentFindsTheNoopMinimumWithinTwentyPoints) {
  const SweepSpec spec = noop_search(", objective: val_loss, budget: 20, tolerance: 0.01");
  Db db(spec);
  SearchProgress p = db.progress(spec);
  for (int round = 0; round < 25 && !p.state.finished; ++round) {
    for (const SearchPoint& point : p.points)
      if (!point.value)
        for (const PlannedTrial& t : point.trials) db.end(t);
    p = db.progress(spec);
  }
  ASSERT_TRUE(p.state.finished) << p.state.why;
  EXPECT_LE(p.state.asked.size(), 20u);
  ASSERT_TRUE(p.state.best);
  EXPECT_NEAR(p.state.asked[*p.state.best], 7.3, 0.1) << p.state.why;
  for (const SearchPoint& point : p.points) {
    ASSERT_TRUE(point.value);
    EXPECT_DOUBLE_EQ(point.value->value, loss_at(point.x));
  }
}

}  // namespace
}  // namespace locsweep
