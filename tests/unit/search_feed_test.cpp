// The search feed in the coordinator, in process (orchestrator/search_feed.hpp,
// CoordinatorOptions::more_trials): noop trials with a synthetic loss on a FakeTransport
// (fake time), a real results store. The coordinator starts each point the replay asks as
// the previous ones settle, and the sweep ends only when the search has finished; a rerun
// starts nothing; with lipo and parallel 2 both workers are kept busy.
#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <cmath>
#include <optional>

#include "orchestrator/coordinator.hpp"
#include "orchestrator/search_feed.hpp"
#include "results/search_progress.hpp"
#include "support/fake_transport.hpp"
#include "support/temp_dir.hpp"
#include "sweeps/search_plan.hpp"

namespace locsweep {
namespace {

using test_support::FakeClock;
using test_support::FakeTransport;
using test_support::TempDir;
using test_support::WorkerScript;

// A noop search of beta, whose trials' loss is 3 + 0.05 (beta - 7.3)^2.
SweepSpec noop_search(const std::string& search) {
  return parse_sweep(
      "name: s\nkind: noop\nlocality: {schedule: quintic}\n"
      "noop: {loss: {key: locality.schedule.beta, center: 7.3, curvature: 0.05, floor: 3}}\n"
      "search: {key: locality.schedule.beta, interval: [1, 20], objective: val_loss" +
          search + "}\n",
      "<test>", "/");
}

struct SearchRun {
  TempDir dir{"locsweep-search-feed"};
  SweepSpec spec;
  std::optional<ResultsStore> store;
  FakeClock clock;
  std::atomic<bool> stop{false};
  StatusDisplay display{"s", true};
  int64_t sweep_id = 0;

  explicit SearchRun(SweepSpec s) : spec(std::move(s)) {
    store.emplace(ResultsStore::open_for_writing((dir / "r.sqlite").string()));
  }
  std::string art() const { return (dir / "art").string(); }

  // One run as `locsweep run` does it: register the plan with every point asked so far,
  // then coordinate with the feed. Returns the trials the workers were given.
  std::vector<std::string> run(size_t workers) {
    const Plan plan = with_search_points(
        spec, plan_sweep(spec, InputIdentity::as_written),
        search_progress(spec, &store->db(), InputIdentity::as_written).state.asked,
        InputIdentity::as_written);
    sweep_id = store->sync_sweep(spec, plan, art(), false).sweep_id;
    RunInfo info;
    info.host = "fake";
    info.pid = ::getpid();
    const int64_t run_id = store->begin_run(sweep_id, info, 30);
    SearchFeed feed(*store, spec, sweep_id, art());
    CoordinatorOptions o;
    o.order = DispatchOrder::fifo;
    o.commit_interval_s = 0;
    o.stop = &stop;
    o.clock = [this] { return clock.now(); };
    o.more_trials = [&feed] { return feed(); };
    FakeTransport transport(clock, std::vector<WorkerScript>(workers));
    auto open = store->open_trials(sweep_id);
    Coordinator c(*store, run_id, std::move(open.trials), SweepCounts{}, transport, display, o);
    EXPECT_EQ(c.run(), Coordinator::Ending::complete);
    store->end_run(run_id, "complete");
    return transport.assigned_;
  }
  SearchProgress progress() {
    return search_progress(spec, &store->db(), InputIdentity::as_written);
  }
  int64_t count(const std::string& sql) {
    auto stmt = store->db().prepare(sql);
    return stmt.step() ? stmt.integer(0) : -1;
  }
};

// The test replays as written (nothing is read); SearchFeed replays with content identity,
// which for noop trials (they read nothing) gives the same hashes.
TEST(SearchFeed, TheCoordinatorRunsEveryPointTheSearchAsksUntilItFinishes) {
  SearchRun r(noop_search(", method: brent, budget: 20, tolerance: 0.01"));
  const std::vector<std::string> assigned = r.run(1);
  const SearchProgress p = r.progress();
  ASSERT_TRUE(p.state.finished) << p.state.why;
  ASSERT_TRUE(p.state.best);
  EXPECT_NEAR(p.state.asked[*p.state.best], 7.3, 0.1);
  EXPECT_LE(p.state.asked.size(), 20u);
  EXPECT_EQ(assigned.size(), p.state.asked.size()) << "each point ran once";
  for (size_t i = 0; i < p.points.size(); ++i)
    EXPECT_EQ(assigned.at(i), p.points[i].trials.at(0).hash) << "in the order asked";
  EXPECT_EQ(r.count("SELECT count(*) FROM sweep_trials"),
            static_cast<int64_t>(p.state.asked.size()));
  EXPECT_EQ(r.count("SELECT count(*) FROM trials WHERE status = 'done'"),
            static_cast<int64_t>(p.state.asked.size()));
  // A rerun registers the same trials (accepted) and starts nothing.
  EXPECT_TRUE(r.run(1).empty());
}

TEST(SearchFeed, LipoKeepsParallelPointsInFlightOnTwoWorkers) {
  SearchRun r(noop_search(", method: lipo, budget: 8, parallel: 2"));
  const std::vector<std::string> assigned = r.run(2);
  const SearchProgress p = r.progress();
  ASSERT_TRUE(p.state.finished) << p.state.why;
  EXPECT_EQ(assigned.size(), p.state.asked.size());
  EXPECT_GE(assigned.size(), 3u);
  // With one point in flight the first worker would take every trial (dispatch gives the
  // next to the first idle worker): both worked, so two were in flight.
  EXPECT_EQ(r.count("SELECT count(DISTINCT worker_rank) FROM attempts"), 2);
  EXPECT_EQ(r.count("SELECT count(*) FROM attempts"), static_cast<int64_t>(assigned.size()));
}

}  // namespace
}  // namespace locsweep
