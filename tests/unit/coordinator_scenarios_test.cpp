// The coordinator's scheduling branches, in process: one table row per scenario (a noop sweep,
// a script per worker on a FakeTransport, the coordinator's options), each checked against
// the real SQLite results store it wrote. Time is fake (tests/support/fake_transport.hpp), so
// minutes of silence and stop grace take milliseconds.
#include <gtest/gtest.h>
#include <sqlite3.h>
#include <unistd.h>

#include <atomic>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include "orchestrator/coordinator.hpp"
#include "results/lease.hpp"
#include "support/fake_transport.hpp"
#include "support/sql_rows.hpp"
#include "support/temp_dir.hpp"
#include "sweeps/plan.hpp"

// The table's rows name only the fields they set (designated initializers).
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"

namespace locsweep {
namespace {

using test_support::Answer;
using test_support::FakeClock;
using test_support::FakeTransport;
using test_support::OnStop;
using test_support::TempDir;
using test_support::WorkerScript;
using Ending = Coordinator::Ending;

constexpr Outcome kDone = Outcome::done;

Answer answer(Outcome outcome, double after_s = 1) {
  Answer a;
  a.outcome = outcome;
  a.after_s = after_s;
  return a;
}

struct Scenario {
  const char* name;
  std::string points;            // the sweep's points (noop trials)
  std::string execution = "{}";  // the sweep's execution block
  std::string extra;             // more sweep keys (YAML lines): bases, seeds
  DispatchOrder order = DispatchOrder::fifo;
  std::vector<WorkerScript> workers;
  std::optional<double> stop_at_s;  // the stop signal, at this fake time
  double stop_grace_s = 3;
  std::optional<int> max_retries;      // CoordinatorOptions override
  std::vector<int> checkpointed = {};  // plan positions with a checkpoint (step 5) beforehand
  // Expected: how the run ends, each trial in plan order as "status retries_used
  // rank:outcome/attempt status,...", the trials in the order they were assigned (plan
  // positions), and the workers given up on.
  Ending ending;
  std::vector<std::string> trials;
  std::vector<int> assigned = {};
  std::set<int> lost = {};
  int finished_messages = -1;  // >= 0: how many `finished` the coordinator received
};

// clang-format off
const Scenario kScenarios[] = {
    {.name = "fifo_dispatches_in_plan_order",
     .points = "[{noop.duration_s: 1}, {noop.duration_s: 3}, {noop.duration_s: 2}]",
     .order = DispatchOrder::fifo, .workers = {WorkerScript{}},
     .ending = Ending::complete,
     .trials = {"done 0 1:done/done", "done 0 1:done/done", "done 0 1:done/done"},
     .assigned = {0, 1, 2}},
    {.name = "longest_first_dispatches_by_cost",
     .points = "[{noop.duration_s: 1}, {noop.duration_s: 3}, {noop.duration_s: 2}]",
     .order = DispatchOrder::longest_first, .workers = {WorkerScript{}},
     .ending = Ending::complete,
     .trials = {"done 0 1:done/done", "done 0 1:done/done", "done 0 1:done/done"},
     .assigned = {1, 2, 0}},
    {.name = "trials_with_a_checkpoint_go_first",
     .points = "[{noop.duration_s: 1}, {noop.duration_s: 3}, {noop.duration_s: 2}]",
     .order = DispatchOrder::longest_first, .workers = {WorkerScript{}}, .checkpointed = {0, 2},
     .ending = Ending::complete,
     .trials = {"done 0 1:done/done", "done 0 1:done/done", "done 0 1:done/done"},
     .assigned = {2, 0, 1}},
    {.name = "retries_up_to_max_retries_then_failed",
     .points = "[{noop.duration_s: 1}]", .execution = "{max_retries: 2}",
     .workers = {{.answers = {answer(Outcome::crash), answer(Outcome::timeout),
                              answer(Outcome::oom), answer(kDone)}}},
     .ending = Ending::complete,
     .trials = {"failed 2 1:crash/failed,1:timeout/failed,1:oom/failed"}, .assigned = {0, 0, 0}},
    {.name = "a_retry_that_succeeds_is_done",
     .points = "[{noop.duration_s: 1}]", .execution = "{max_retries: 2}",
     .workers = {{.answers = {answer(Outcome::crash), answer(kDone)}}},
     .ending = Ending::complete, .trials = {"done 1 1:crash/failed,1:done/done"}},
    {.name = "max_retries_option_overrides_the_trial",
     .points = "[{noop.duration_s: 1}]", .execution = "{max_retries: 5}",
     .workers = {{.answers = {answer(Outcome::crash), answer(Outcome::crash)}}},
     .max_retries = 1, .ending = Ending::complete,
     .trials = {"failed 1 1:crash/failed,1:crash/failed"}},
    {.name = "the_default_max_retries_comes_from_execution_config",
     .points = "[{noop.duration_s: 1}]",
     .workers = {{.answers = {answer(Outcome::crash), answer(Outcome::crash),
                              answer(Outcome::crash), answer(kDone)}}},
     .ending = Ending::complete,
     .trials = {"failed 2 1:crash/failed,1:crash/failed,1:crash/failed"}},
    {.name = "nan_is_final", .points = "[{noop.duration_s: 1}]",
     .execution = "{max_retries: 2}", .workers = {{.answers = {answer(Outcome::nan)}}},
     .ending = Ending::complete, .trials = {"failed 0 1:nan/failed"}},
    {.name = "error_is_final", .points = "[{noop.duration_s: 1}]",
     .execution = "{max_retries: 2}", .workers = {{.answers = {answer(Outcome::error)}}},
     .ending = Ending::complete, .trials = {"failed 0 1:error/failed"}},
    {.name = "preemptions_use_no_retry", .points = "[{noop.duration_s: 1}]",
     .execution = "{max_retries: 0}",
     .workers = {{.answers = {answer(Outcome::preempted), answer(Outcome::preempted),
                              answer(kDone)}}},
     .ending = Ending::complete,
     .trials = {"done 0 1:preempted/interrupted,1:preempted/interrupted,1:done/done"}},
    {.name = "the_preemption_budget_fails_a_trial_that_never_progresses",
     .points = "[{noop.duration_s: 1}]", .execution = "{max_preemptions: 1}",
     .workers = {{.answers = {answer(Outcome::preempted), answer(Outcome::preempted),
                              answer(kDone)}}},
     .ending = Ending::complete,
     .trials = {"failed 0 1:preempted/interrupted,1:preempted/failed"}},
    {.name = "preemptions_that_progress_do_not_use_the_budget",
     .points = "[{noop.duration_s: 1}]", .execution = "{max_preemptions: 1}",
     .workers = {{.answers = {{.outcome = Outcome::preempted, .checkpoint = 5},
                              {.outcome = Outcome::preempted, .checkpoint = 9, .resumed_from = 5},
                              {.outcome = Outcome::preempted, .checkpoint = 12, .resumed_from = 9},
                              answer(kDone)}}},
     .ending = Ending::complete,
     .trials = {"done 0 1:preempted/interrupted,1:preempted/interrupted,"
                "1:preempted/interrupted,1:done/done"}},
    {.name = "disk_full_pauses_dispatch",
     .points = "[{noop.duration_s: 1}, {noop.duration_s: 1.1}, {noop.duration_s: 1.2}]",
     .workers = {{.answers = {answer(Outcome::disk_full, 1)}}, {.answers = {answer(kDone, 3)}}},
     .ending = Ending::paused,
     .trials = {"pending 0 1:disk_full/interrupted", "done 0 2:done/done", "pending 0"},
     .assigned = {0, 1}},
    {.name = "a_silent_busy_worker_is_lost_and_its_trial_runs_elsewhere",
     .points = "[{noop.duration_s: 1}, {noop.duration_s: 1.1}]", .execution = "{max_retries: 0}",
     .workers = {WorkerScript{}, {.answers = {{.never = true}}}},
     .ending = Ending::complete,
     .trials = {"done 0 1:done/done", "done 0 2:lost/failed,1:done/done"},
     .assigned = {0, 1, 1}, .lost = {1}},
    {.name = "a_worker_silent_after_ready_is_lost",
     .points = "[{noop.duration_s: 1}]",
     .workers = {{.answers = {answer(kDone, 8)}}, {.silent_after_ready = true}},
     .ending = Ending::complete, .trials = {"done 0 1:done/done"}, .lost = {1}},
    {.name = "a_late_result_of_a_lost_worker_is_ignored",
     .points = "[{noop.duration_s: 1}, {noop.duration_s: 1.1}]",
     // worker 2 is lost at ~5 s; its trial runs again on worker 1 until ~10 s; worker 2's
     // `done` comes in at 8 s, while the trial runs elsewhere.
     .workers = {{.answers = {answer(kDone, 1), answer(kDone, 5)}},
                 {.answers = {{.outcome = kDone, .after_s = 8, .mute = true}}}},
     .ending = Ending::complete,
     .trials = {"done 0 1:done/done", "done 0 2:lost/failed,1:done/done"}, .lost = {1},
     .finished_messages = 3},
    {.name = "a_duplicate_result_is_recorded_once",
     .points = "[{noop.duration_s: 1}, {noop.duration_s: 1.1}]", .execution = "{max_retries: 1}",
     .workers = {{.answers = {{.outcome = Outcome::crash, .duplicate = true},
                              {.outcome = kDone, .duplicate = true},
                              {.outcome = kDone, .duplicate = true}}}},
     .ending = Ending::complete,
     .trials = {"done 1 1:crash/failed,1:done/done", "done 0 1:done/done"},
     .assigned = {0, 0, 1}, .finished_messages = 6},
    {.name = "stop_gets_running_trials_reported_interrupted",
     .points = "[{noop.duration_s: 1}, {noop.duration_s: 1.1}, {noop.duration_s: 1.2}]",
     .workers = {{.answers = {answer(kDone, 10)}}, {.answers = {answer(kDone, 10)}}},
     .stop_at_s = 2, .ending = Ending::interrupted,
     .trials = {"pending 0 1:preempted/interrupted", "pending 0 2:preempted/interrupted",
                "pending 0"},
     .assigned = {0, 1}},
    {.name = "the_stop_grace_expiring_ends_the_attempt_interrupted",
     .points = "[{noop.duration_s: 1}, {noop.duration_s: 1.1}]",
     .workers = {{.answers = {answer(kDone, 100)}}, {.answers = {answer(kDone, 100)},
                                                     .on_stop = OnStop::ignore}},
     .stop_at_s = 2, .stop_grace_s = 3, .ending = Ending::interrupted,
     .trials = {"pending 0 1:preempted/interrupted", "pending 0 2:preempted/interrupted"},
     .lost = {1}},
    // Staged sweeps: plan position 0 is the base; longest-first would start the longer
    // dependent (position 2) first, but dependents wait until their base is done, and the
    // idle second rank gets nothing meanwhile.
    {.name = "dependents_wait_for_their_base",
     .points = "[{model.init: 'base:b', noop.duration_s: 1}, "
               "{model.init: 'base:b', noop.duration_s: 2}]",
     .extra = "bases: {b: {noop: {duration_s: 0.5}}}\n",
     .order = DispatchOrder::longest_first,
     .workers = {{.answers = {answer(kDone, 4)}}, WorkerScript{}},
     .ending = Ending::complete,
     .trials = {"done 0 1:done/done", "done 0 2:done/done", "done 0 1:done/done"},
     .assigned = {0, 2, 1}},
    // One base per seed (the base's seed follows its dependents'): both run at once.
    {.name = "bases_of_several_seeds_run_in_parallel",
     .points = "[{model.init: 'base:b'}]", .extra = "bases: {b: {}}\nseeds: [0, 1]\n",
     .workers = {{.answers = {answer(kDone, 2), answer(kDone, 1)}},
                 {.answers = {answer(kDone, 2), answer(kDone, 1)}}},
     .ending = Ending::complete,
     .trials = {"done 0 1:done/done", "done 0 2:done/done", "done 0 1:done/done",
                "done 0 2:done/done"},
     .assigned = {0, 1, 2, 3}},
    // A base with its own seed serves every seed: one base, then both dependents.
    {.name = "a_base_with_its_own_seed_runs_once",
     .points = "[{model.init: 'base:b'}]", .extra = "bases: {b: {seed: 7}}\nseeds: [0, 1]\n",
     .workers = {WorkerScript{}, WorkerScript{}},
     .ending = Ending::complete,
     .trials = {"done 0 1:done/done", "done 0 1:done/done", "done 0 2:done/done"},
     .assigned = {0, 1, 2}},
    // A base that fails for good fails its dependents, through a chain of bases (b2 starts
    // from b1); they never start. A retried base is waited for.
    {.name = "a_failed_base_fails_its_dependents_through_a_chain",
     .points = "[{model.init: 'base:b2'}]", .execution = "{max_retries: 1}",
     .extra = "bases: {b1: {noop: {duration_s: 3}}, b2: {model: {init: 'base:b1'}}}\n",
     .workers = {{.answers = {answer(Outcome::crash), answer(Outcome::error)}}, WorkerScript{}},
     .ending = Ending::complete,
     .trials = {"failed 1 1:crash/failed,1:error/failed", "failed 0", "failed 0"},
     .assigned = {0, 0}},
};
// clang-format on

// "status retries_used rank:outcome/status,..." for each trial, in plan order.
std::vector<std::string> trial_rows(const std::string& db) {
  return test_support::sql_rows(
      db,
      "SELECT t.status || ' ' || t.retries_used || COALESCE(' ' || (SELECT "
      "group_concat(worker_rank || ':' || outcome || '/' || status, ',') FROM (SELECT * FROM "
      "attempts a WHERE a.trial_hash = t.hash ORDER BY number)), '') FROM trials t JOIN "
      "sweep_trials st ON st.trial_hash = t.hash ORDER BY st.position");
}

// A sweep registered in a fresh database, with a run begun on it.
struct Harness {
  TempDir dir{"locsweep-coordinator"};
  std::string db = (dir / "r.sqlite").string();
  SweepSpec spec;
  Plan plan;
  std::optional<ResultsStore> store;
  int64_t sweep_id = 0, run_id = 0;
  FakeClock clock;
  std::atomic<bool> stop{false};
  StatusDisplay display{"t", true};

  Harness(const std::string& points, const std::string& execution, double lease_s = 30,
          const std::string& host = "fake", const std::string& extra = "") {
    spec = parse_sweep(
        "name: t\nkind: noop\nexecution: " + execution + "\npoints: " + points + "\n" + extra,
        "<test>", dir.path().string());
    plan = plan_sweep(spec);
    store.emplace(ResultsStore::open_for_writing(db));
    sweep_id = store->sync_sweep(spec, plan, (dir / "artifacts").string(), false).sweep_id;
    RunInfo info;
    info.host = host;
    info.pid = ::getpid();
    run_id = store->begin_run(sweep_id, info, lease_s);
  }

  CoordinatorOptions options(DispatchOrder order) {
    CoordinatorOptions o;
    o.order = order;
    o.worker_silence_s = 5;
    o.commit_interval_s = 0;  // every turn commits: what the hooks and the asserts see is final
    o.stop = &stop;
    o.clock = [this] { return clock.now(); };
    return o;
  }

  int position_of(const std::string& hash) const {
    for (size_t i = 0; i < plan.trials.size(); ++i)
      if (plan.trials[i].hash == hash) return static_cast<int>(i);
    return -1;
  }
};

void PrintTo(const Scenario& s, std::ostream* os) {
  *os << s.name;
}

class CoordinatorScenario : public ::testing::TestWithParam<Scenario> {};

TEST_P(CoordinatorScenario, RecordsWhatTheTableSays) {
  const Scenario& s = GetParam();
  Harness h(s.points, s.execution, 30, "fake", s.extra);
  FakeTransport transport(h.clock, s.workers);
  if (s.stop_at_s) transport.at(*s.stop_at_s, [&h] { h.stop = true; });
  CoordinatorOptions o = h.options(s.order);
  o.stop_grace_s = s.stop_grace_s;
  o.max_retries = s.max_retries;
  for (int position : s.checkpointed)
    h.store->record_checkpoint(h.plan.trials[static_cast<size_t>(position)].hash, 5);
  auto open = h.store->open_trials(h.sweep_id);
  Coordinator c(*h.store, h.run_id, std::move(open.trials), SweepCounts{}, transport, h.display, o);
  EXPECT_EQ(c.run(), s.ending);
  const auto rows = trial_rows(h.db);
  EXPECT_EQ(rows, s.trials);
  // The coordinator's own counts agree with the database (a result handled twice would not).
  SweepCounts recorded;
  for (const auto& row : rows) {
    const std::string status = row.substr(0, row.find(' '));
    recorded.done += status == "done";
    recorded.failed += status == "failed";
    recorded.pending += status == "pending";
  }
  EXPECT_EQ(c.counts().done, recorded.done);
  EXPECT_EQ(c.counts().failed, recorded.failed);
  EXPECT_EQ(c.counts().pending + c.counts().running, recorded.pending);
  if (!s.assigned.empty()) {
    std::vector<int> assigned;
    for (const auto& hash : transport.assigned_) assigned.push_back(h.position_of(hash));
    EXPECT_EQ(assigned, s.assigned);
  }
  if (s.finished_messages >= 0) {
    EXPECT_EQ(transport.received_[protocol::Finished::kType], s.finished_messages);
  }
  EXPECT_EQ(transport.given_up_, s.lost);
  for (int w : s.lost) EXPECT_EQ(transport.sent_[w].back(), protocol::Abandon::kType);
  EXPECT_LT(h.clock.seconds(), 60) << "the scenario should end within a minute of fake time";
}

INSTANTIATE_TEST_SUITE_P(Table, CoordinatorScenario, ::testing::ValuesIn(kScenarios),
                         [](const auto& info) { return std::string(info.param.name); });

// A staged sweep whose base failed for good: its dependent fails with a message naming the
// base; --retry-failed (retry_failed) makes both pending, and the next run waits for the base,
// then starts the dependent from the base's final checkpoint (model.init rewritten to it, its
// identity unchanged).
TEST(CoordinatorBases, AFailedBaseIsNamedAndARerunStartsFromItsCheckpoint) {
  Harness h("[{model.init: 'base:pre'}]", "{max_retries: 0}", 30, "fake",
            "bases: {pre: {noop: {duration_s: 2}}}\n");
  ASSERT_EQ(h.plan.trials.size(), 2u);
  const PlannedTrial& base = h.plan.trials[0];
  const PlannedTrial& dependent = h.plan.trials[1];
  EXPECT_EQ(dependent.base, base.hash);
  {
    FakeTransport transport(h.clock, {{.answers = {answer(Outcome::error)}}});
    auto open = h.store->open_trials(h.sweep_id);
    Coordinator c(*h.store, h.run_id, std::move(open.trials), SweepCounts{}, transport, h.display,
                  h.options(DispatchOrder::fifo));
    EXPECT_EQ(c.run(), Ending::complete);
    EXPECT_EQ(transport.assigned_, std::vector<std::string>{base.hash});
  }
  const std::string query =
      "SELECT status || ' ' || outcome || ': ' || message FROM trials WHERE hash = '" +
      dependent.hash + "'";
  const auto message = test_support::sql_rows(h.db, query.c_str());
  ASSERT_EQ(message.size(), 1u);
  EXPECT_NE(message[0].find("failed error: its base 'base pre seed=0' (" + base.hash.substr(0, 12) +
                            ") failed"),
            std::string::npos)
      << message[0];
  h.store->end_run(h.run_id, "complete");

  EXPECT_EQ(h.store->retry_failed(h.sweep_id), 2u);
  RunInfo info;
  info.host = "fake";
  info.pid = ::getpid();
  const int64_t rerun = h.store->begin_run(h.sweep_id, info, 30);
  FakeTransport transport(h.clock, {WorkerScript{}, WorkerScript{}});
  auto open = h.store->open_trials(h.sweep_id);
  Coordinator c(*h.store, rerun, std::move(open.trials), SweepCounts{}, transport, h.display,
                h.options(DispatchOrder::fifo));
  EXPECT_EQ(c.run(), Ending::complete);
  EXPECT_EQ(transport.assigned_, (std::vector<std::string>{base.hash, dependent.hash}));
  EXPECT_EQ(trial_rows(h.db),
            (std::vector<std::string>{"done 0 1:error/failed,1:done/done", "done 0 1:done/done"}));
  const nlohmann::json& sent = transport.assigned_config_.at(dependent.hash);
  const auto folders = test_support::sql_rows(
      h.db, ("SELECT out_dir FROM trials WHERE hash = '" + base.hash + "'").c_str());
  EXPECT_EQ(sent["model"]["init"], "checkpoint:" + folders.at(0) + "/checkpoint.h5");
  EXPECT_EQ(sent["inputs"]["init"], "trial:" + base.hash);
  EXPECT_EQ(trial_hash(trial_config_from_json(sent)), dependent.hash)
      << "the rewritten init leaves the trial's identity as planned";
}

// Lease loss: another process takes the run row over (this run is recorded on another host
// and stopped heartbeating, so a later run may take it after its lease). The coordinator's
// next write fails with LeaseLost and nothing of it reaches the database: the trial whose
// result comes in after the takeover stays as the takeover left it.
TEST(CoordinatorLease, StopsWritingOnceAnotherRunTookTheLease) {
  Harness h("[{noop.duration_s: 1}, {noop.duration_s: 1.1}]", "{}", /*lease_s=*/0.2,
            /*host=*/"elsewhere");
  FakeTransport transport(h.clock, {WorkerScript{.answers = {answer(kDone, 1), answer(kDone, 2)}}});
  int64_t taker = 0;
  transport.at(
      1.5,
      [&] {
        ResultsStore other = ResultsStore::open_for_writing(h.db);
        RunInfo info;
        info.host = host_name();
        info.pid = ::getpid() + 1;
        taker = other.begin_run(h.sweep_id, info, 30);  // watches our counter for 0.2 s first
      },
      [&] { return !h.store->in_batch(); });
  CoordinatorOptions o = h.options(DispatchOrder::fifo);
  o.run_heartbeat_s = 1000;  // the lease is not refreshed: it lapses
  auto open = h.store->open_trials(h.sweep_id);
  Coordinator c(*h.store, h.run_id, std::move(open.trials), SweepCounts{}, transport, h.display, o);
  EXPECT_THROW(c.run(), LeaseLost);
  EXPECT_GT(taker, h.run_id);
  // The first trial was recorded before the takeover; the second one's attempt was closed by
  // the takeover (interrupted), and its `done` at fake second 3 was never written.
  EXPECT_EQ(trial_rows(h.db),
            (std::vector<std::string>{"done 0 1:done/done", "pending 0 1:preempted/interrupted"}));
}

}  // namespace
}  // namespace locsweep
