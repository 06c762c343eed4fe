// The results store on real SQLite files: registering sweeps (new, extended, a clashing spec
// refused with nothing written), the run lease (a live run refuses a second one; a dead
// process on this host, an expired heartbeat or the same Slurm job is reclaimed and its
// attempts closed as interrupted), attempt status transitions, the idempotent per-step
// upsert, batches that vanish unless committed, and the files open_for_writing refuses.
#include <gtest/gtest.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <functional>
#include <sstream>

#include "common/error.hpp"
#include "results/queries.hpp"
#include "results/schema.hpp"
#include "results/store.hpp"
#include "support/temp_dir.hpp"
#include "sweeps/plan.hpp"
#include "sweeps/sweep_spec.hpp"

extern char** environ;

namespace locsweep {
namespace {
using test_support::TempDir;
namespace fs = std::filesystem;

std::string file_bytes(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

// A noop sweep named `name` with the given durations x seeds 0 and 1.
SweepSpec noop_spec(const std::string& durations, const std::string& name = "s") {
  return parse_sweep("name: " + name + "\nkind: noop\ngrid:\n  noop.duration_s: [" + durations +
                         "]\nseeds: [0, 1]\n",
                     "test.yaml", ".");
}

int64_t count(ResultsStore& store, const std::string& sql) {
  auto stmt = store.db().prepare(sql);
  EXPECT_TRUE(stmt.step()) << sql;
  return stmt.integer(0);
}

std::string text(ResultsStore& store, const std::string& sql) {
  auto stmt = store.db().prepare(sql);
  return stmt.step() ? stmt.text(0) : "<no row>";
}

// Every row of every table, as text: "nothing was written" means this did not change.
std::string contents(ResultsStore& store) {
  std::string out;
  auto tables =
      store.db().prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name");
  while (tables.step()) {
    const std::string table = tables.text(0);
    out += "## " + table + "\n";
    auto rows = store.db().prepare("SELECT * FROM " + table + " ORDER BY 1, 2");
    while (rows.step()) {
      for (int c = 0; c < rows.columns(); ++c) out += (c ? "|" : "") + rows.text(c);
      out += "\n";
    }
  }
  return out;
}

// --- sync_sweep ------------------------------------------------------------------------

struct SyncCase {
  std::string name;
  std::string second;  // durations of the second spec under the same name
  bool allow_spec_change;
  bool refused;
  size_t new_trials, known_trials, linked_after;
};
class SyncSweep : public testing::TestWithParam<SyncCase> {};

TEST_P(SyncSweep, RegistersNewExtendsOrRefuses) {
  const SyncCase& c = GetParam();
  TempDir dir;
  ResultsStore store = ResultsStore::open_for_writing((dir / "r.sqlite").string());
  const SweepSpec first = noop_spec("0.1, 0.2");
  const auto r1 = store.sync_sweep(first, plan_sweep(first), (dir / "art").string(), false);
  EXPECT_EQ(r1.new_trials, 4u);
  EXPECT_EQ(r1.known_trials, 0u);
  const auto trials = store.sweep_trials(r1.sweep_id);
  ASSERT_EQ(trials.size(), 4u);
  for (size_t i = 0; i < trials.size(); ++i) {
    EXPECT_EQ(trials[i].status, TrialStatus::pending);
    EXPECT_EQ(trials[i].position, static_cast<int>(i));
    EXPECT_EQ(trials[i].attempts, 0);
    EXPECT_EQ(trials[i].out_dir, (dir / "art" / "trials" / trials[i].hash.substr(0, 16)).string());
  }

  const SweepSpec second = noop_spec(c.second);
  const std::string before = contents(store);
  if (c.refused) {
    try {
      store.sync_sweep(second, plan_sweep(second), (dir / "art").string(), c.allow_spec_change);
      FAIL() << "expected InputError";
    } catch (const InputError& e) {
      const std::string message = e.what();
      EXPECT_NE(message.find("sweep 's' is already in"), std::string::npos) << message;
      EXPECT_NE(message.find("--allow-spec-change"), std::string::npos) << message;
      EXPECT_NE(message.find("Nothing was changed"), std::string::npos) << message;
    }
    EXPECT_EQ(contents(store), before) << "a refused spec must write nothing";
    return;
  }
  const auto r2 =
      store.sync_sweep(second, plan_sweep(second), (dir / "art").string(), c.allow_spec_change);
  EXPECT_EQ(r2.sweep_id, r1.sweep_id);
  EXPECT_EQ(r2.new_trials, c.new_trials);
  EXPECT_EQ(r2.known_trials, c.known_trials);
  EXPECT_EQ(store.sweep_trials(r2.sweep_id).size(), c.linked_after);
  EXPECT_EQ(count(store, "SELECT count(*) FROM sweeps"), 1);
  EXPECT_EQ(text(store, "SELECT spec_yaml FROM sweeps"), second.source);
}

INSTANTIATE_TEST_SUITE_P(
    ResultsStore, SyncSweep,
    testing::Values(SyncCase{"same_spec", "0.1, 0.2", false, false, 0, 4, 4},
                    SyncCase{"reordered", "0.2, 0.1", false, false, 0, 4, 4},
                    SyncCase{"extended", "0.1, 0.2, 0.3", false, false, 2, 4, 6},
                    SyncCase{"dropped", "0.1", false, true, 0, 0, 0},
                    SyncCase{"replaced", "0.3, 0.4", false, true, 0, 0, 0},
                    SyncCase{"dropped_allowed", "0.1", true, false, 0, 2, 4},
                    SyncCase{"replaced_allowed", "0.3, 0.4", true, false, 4, 0, 8}),
    [](const auto& info) { return info.param.name; });

TEST(ResultsStoreSync, TwoSweepsShareATrialOnce) {
  TempDir dir;
  ResultsStore store = ResultsStore::open_for_writing((dir / "r.sqlite").string());
  const SweepSpec a = noop_spec("0.1, 0.2", "a");
  const SweepSpec b = noop_spec("0.2, 0.3", "b");
  EXPECT_EQ(store.sync_sweep(a, plan_sweep(a), (dir / "art").string(), false).new_trials, 4u);
  const auto rb = store.sync_sweep(b, plan_sweep(b), (dir / "art").string(), false);
  EXPECT_EQ(rb.new_trials, 2u);
  EXPECT_EQ(rb.known_trials, 2u);
  EXPECT_EQ(count(store, "SELECT count(*) FROM trials"), 6);
  EXPECT_EQ(count(store, "SELECT count(*) FROM sweep_trials"), 8);
}

// --- the run lease ---------------------------------------------------------------------

// A child process whose command line says "locsweep" (as a live coordinator's would).
class FakeCoordinator {
 public:
  FakeCoordinator() {
    const char* argv[] = {"locsweep-lease-test", "60", nullptr};
    if (posix_spawn(&pid_, "/bin/sleep", nullptr, nullptr, const_cast<char**>(argv), environ) != 0)
      throw std::runtime_error("cannot start /bin/sleep");
  }
  FakeCoordinator(const FakeCoordinator&) = delete;
  ~FakeCoordinator() {
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, nullptr, 0);
  }
  pid_t pid() const { return pid_; }

 private:
  pid_t pid_ = -1;
};

// The pid of a process that has exited (and been reaped).
pid_t dead_pid() {
  pid_t pid = -1;
  const char* argv[] = {"true", nullptr};
  if (posix_spawn(&pid, "/bin/true", nullptr, nullptr, const_cast<char**>(argv), environ) != 0)
    throw std::runtime_error("cannot start /bin/true");
  ::waitpid(pid, nullptr, 0);
  return pid;
}

enum class Holder { live_locsweep, dead_pid, alive_not_locsweep };
struct LeaseCase {
  std::string name;
  bool same_host;
  Holder holder;
  double heartbeat_age_s;  // how long ago the first run's heartbeat was
  bool same_slurm_job;
  bool refused;
};
class RunLease : public testing::TestWithParam<LeaseCase> {};

TEST_P(RunLease, LiveRunRefusesDeadRunIsReclaimed) {
  const LeaseCase& c = GetParam();
  TempDir dir;
  FakeCoordinator coordinator;
  ResultsStore store = ResultsStore::open_for_writing((dir / "r.sqlite").string());
  const SweepSpec spec = noop_spec("0.1");
  const auto sync = store.sync_sweep(spec, plan_sweep(spec), (dir / "art").string(), false);
  const auto trials = store.sweep_trials(sync.sweep_id);

  RunInfo first;
  first.host = "node-a";
  first.pid = c.holder == Holder::live_locsweep ? coordinator.pid()
              : c.holder == Holder::dead_pid
                  ? dead_pid()
                  : ::getpid();  // alive, but not locsweep: a recycled pid
  first.slurm_job_id = "4711";
  const int64_t run1 = store.begin_run(sync.sweep_id, first, 30);
  const int64_t attempt = store.start_attempt(trials[0].hash, 1, run1, AttemptStart{});
  store.record_checkpoint(trials[0].hash, 20);
  store.db().exec("UPDATE runs SET heartbeat_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now', '-" +
                  std::to_string(c.heartbeat_age_s) + " seconds')");

  RunInfo second;
  second.host = c.same_host ? "node-a" : "node-b";
  second.pid = 12345;
  second.slurm_job_id = c.same_slurm_job ? "4711" : "";
  if (c.refused) {
    const std::string before = contents(store);
    try {
      store.check_no_live_run(second, 30);
      FAIL() << "check_no_live_run: expected InputError";
    } catch (const InputError& e) {
      EXPECT_NE(std::string(e.what()).find("another locsweep run (run 1"), std::string::npos)
          << e.what();
    }
    EXPECT_THROW(store.begin_run(sync.sweep_id, second, 30), InputError);
    EXPECT_EQ(contents(store), before) << "a refused run must write nothing";
    EXPECT_EQ(text(store, "SELECT status FROM runs"), "running");
    EXPECT_EQ(text(store, "SELECT status FROM attempts"), "running");
    return;
  }
  EXPECT_NO_THROW(store.check_no_live_run(second, 30));
  const int64_t run2 = store.begin_run(sync.sweep_id, second, 30);
  EXPECT_GT(run2, run1);
  EXPECT_EQ(text(store, "SELECT status || ' ' || (ended_at IS NOT NULL) FROM runs WHERE id = " +
                            std::to_string(run1)),
            "crashed 1");
  EXPECT_EQ(text(store, "SELECT status FROM runs WHERE id = " + std::to_string(run2)), "running");
  EXPECT_EQ(text(store,
                 "SELECT status || ' ' || outcome || ' ' || (ended_at IS NOT NULL) FROM attempts "
                 "WHERE id = " +
                     std::to_string(attempt)),
            "interrupted preempted 1");
  const auto after = store.sweep_trials(sync.sweep_id);
  EXPECT_EQ(after[0].status, TrialStatus::pending);
  EXPECT_EQ(after[0].attempts, 1) << "the interrupted attempt still counts as started";
  EXPECT_EQ(after[0].retries_used, 0) << "an interruption is not the trial's fault";
  EXPECT_EQ(after[0].last_step, 20) << "its checkpoint is kept for the resume";
}

INSTANTIATE_TEST_SUITE_P(
    ResultsStore, RunLease,
    testing::Values(
        LeaseCase{"live_process_this_host", true, Holder::live_locsweep, 0, false, true},
        LeaseCase{"other_host_fresh_heartbeat", false, Holder::live_locsweep, 5, false, true},
        LeaseCase{"dead_pid_this_host", true, Holder::dead_pid, 0, false, false},
        LeaseCase{"recycled_pid_this_host", true, Holder::alive_not_locsweep, 0, false, false},
        LeaseCase{"other_host_expired_heartbeat", false, Holder::live_locsweep, 120, false, false},
        LeaseCase{"same_slurm_job_requeued", false, Holder::live_locsweep, 0, true, false}),
    [](const auto& info) { return info.param.name; });

// --- attempts ---------------------------------------------------------------------------

struct Fixture {
  TempDir dir;
  ResultsStore store;
  std::vector<TrialRecord> trials;
  int64_t run_id;
  Fixture() : store(ResultsStore::open_for_writing((dir / "r.sqlite").string())) {
    const SweepSpec spec = noop_spec("0.1");
    const auto sync = store.sync_sweep(spec, plan_sweep(spec), (dir / "art").string(), false);
    trials = store.sweep_trials(sync.sweep_id);
    RunInfo info;
    info.host = "node-a";
    info.pid = 1;
    run_id = store.begin_run(sync.sweep_id, info, 30);
  }
};

struct AttemptCase {
  std::string name;
  Outcome outcome;
  TrialStatus next;  // what the coordinator decided
  std::string attempt_status, trial_status;
  bool finished_at, metrics;  // trial finished_at set; val metrics, heads and artifacts recorded
};
class AttemptTransitions : public testing::TestWithParam<AttemptCase> {};

TEST_P(AttemptTransitions, AttemptAndTrialStatusFollowTheOutcome) {
  const AttemptCase& c = GetParam();
  Fixture f;
  const std::string& hash = f.trials[0].hash;
  AttemptStart start;
  start.worker_rank = 2;
  start.host = "node-a";
  start.pid = 99;
  start.device = "cpu";
  start.manifest = {{"seed", 0}, {"git_revision", "abc"}};
  const int64_t id = f.store.start_attempt(hash, 1, f.run_id, start);
  EXPECT_EQ(text(f.store, "SELECT status FROM attempts WHERE id = " + std::to_string(id)),
            "running");
  EXPECT_EQ(text(f.store, "SELECT status || ' ' || attempts FROM trials"), "running 1");
  EXPECT_EQ(text(f.store, "SELECT json_extract(manifest_json, '$.git_revision') FROM attempts"),
            "abc");

  TrialResult r;
  r.outcome = c.outcome;
  r.message = c.outcome == Outcome::done ? "" : "it went wrong";
  r.steps_done = 30;
  r.resumed_from = 20;
  r.val_loss = 2.5;
  r.val_ppl = std::exp(2.5);
  r.val_tokens = 1000;
  r.train_loss = 2.6;
  r.device = "cpu (1 thread)";
  r.heads = {{0, 0, 0.0, 3.0, 0.9, 0.5, 4.0}, {0, 1, 0.0, 2.0, 0.8, 0.6, 3.0}};
  r.artifacts = {{"checkpoint", "/x/checkpoint.h5", 10, "00ff"}};
  const int retries = c.next == TrialStatus::pending && c.outcome != Outcome::preempted ? 1 : 0;
  f.store.finish_attempt(id, hash, r, c.next, retries);

  EXPECT_EQ(
      text(f.store,
           "SELECT status || ' ' || outcome || ' ' || resumed_from || ' ' || steps_done || ' ' || "
           "device || ' ' || (ended_at IS NOT NULL) FROM attempts"),
      c.attempt_status + " " + std::string(to_string(c.outcome)) + " 20 30 cpu (1 thread) 1");
  EXPECT_EQ(
      text(f.store, "SELECT status || ' ' || retries_used || ' ' || outcome FROM trials"),
      c.trial_status + " " + std::to_string(retries) + " " + std::string(to_string(c.outcome)));
  EXPECT_EQ(count(f.store, "SELECT finished_at IS NOT NULL FROM trials"), c.finished_at ? 1 : 0);
  EXPECT_EQ(count(f.store, "SELECT val_loss IS NOT NULL FROM trials"), c.metrics ? 1 : 0);
  EXPECT_EQ(count(f.store, "SELECT count(*) FROM head_metrics"), c.metrics ? 2 : 0);
  EXPECT_EQ(count(f.store, "SELECT count(*) FROM artifacts"), c.metrics ? 1 : 0);
  if (c.metrics) {
    EXPECT_EQ(text(f.store, "SELECT val_loss FROM trials"), "2.5");
  }
}

INSTANTIATE_TEST_SUITE_P(
    ResultsStore, AttemptTransitions,
    testing::Values(
        AttemptCase{"done", Outcome::done, TrialStatus::done, "done", "done", true, true},
        AttemptCase{"crash_retried", Outcome::crash, TrialStatus::pending, "failed", "pending",
                    false, false},
        AttemptCase{"crash_final", Outcome::crash, TrialStatus::failed, "failed", "failed", true,
                    false},
        AttemptCase{"timeout_retried", Outcome::timeout, TrialStatus::pending, "failed", "pending",
                    false, false},
        AttemptCase{"oom_final", Outcome::oom, TrialStatus::failed, "failed", "failed", true,
                    false},
        AttemptCase{"nan", Outcome::nan, TrialStatus::failed, "failed", "failed", true, false},
        AttemptCase{"error", Outcome::error, TrialStatus::failed, "failed", "failed", true, false},
        AttemptCase{"preempted", Outcome::preempted, TrialStatus::pending, "interrupted", "pending",
                    false, false},
        AttemptCase{"lost", Outcome::lost, TrialStatus::pending, "failed", "pending", false,
                    false}),
    [](const auto& info) { return info.param.name; });

TEST(ResultsStoreAttempts, SecondAttemptNumberIsRecordedAlongsideTheFirst) {
  Fixture f;
  const std::string& hash = f.trials[0].hash;
  const int64_t a1 = f.store.start_attempt(hash, 1, f.run_id, AttemptStart{});
  TrialResult crash;
  crash.outcome = Outcome::crash;
  f.store.finish_attempt(a1, hash, crash, TrialStatus::pending, 1);
  const int64_t a2 = f.store.start_attempt(hash, 2, f.run_id, AttemptStart{});
  EXPECT_NE(a1, a2);
  EXPECT_THROW(f.store.start_attempt(hash, 2, f.run_id, AttemptStart{}), StoreError)
      << "(trial, number) is unique";
  EXPECT_NO_THROW(f.store.start_attempt(hash, 3, f.run_id, AttemptStart{}))
      << "a failed statement stays usable";
  EXPECT_EQ(text(f.store, "SELECT group_concat(number || ':' || status, ',') FROM attempts"),
            "1:failed,2:running,3:running");
  EXPECT_EQ(f.store.sweep_trials(1)[0].attempts, 3);
  EXPECT_EQ(f.store.sweep_trials(1)[0].retries_used, 1);
}

// --- what a coordinator loads ------------------------------------------------------------

TEST(ResultsStoreOpenTrials, OnlyUnfinishedTrialsOfThisSweepInPlanOrderPlusCounts) {
  TempDir dir;
  ResultsStore store = ResultsStore::open_for_writing((dir / "r.sqlite").string());
  const SweepSpec spec = noop_spec("0.1, 0.2, 0.3");  // 6 trials
  const auto sync = store.sync_sweep(spec, plan_sweep(spec), (dir / "art").string(), false);
  const SweepSpec other = noop_spec("0.4", "other");  // pending trials of another sweep
  store.sync_sweep(other, plan_sweep(other), (dir / "art").string(), false);
  const auto all = store.sweep_trials(sync.sweep_id);
  ASSERT_EQ(all.size(), 6u);
  RunInfo info;
  info.host = "node-a";
  const int64_t run = store.begin_run(sync.sweep_id, info, 30);
  auto finish = [&](size_t i, Outcome outcome, TrialStatus next) {
    const int64_t a = store.start_attempt(all[i].hash, 1, run, AttemptStart{});
    TrialResult r;
    r.outcome = outcome;
    store.finish_attempt(a, all[i].hash, r, next, 0);
  };
  finish(0, Outcome::done, TrialStatus::done);
  finish(2, Outcome::nan, TrialStatus::failed);
  finish(3, Outcome::done, TrialStatus::done);
  finish(4, Outcome::crash, TrialStatus::pending);           // to be retried
  store.start_attempt(all[5].hash, 1, run, AttemptStart{});  // running

  const auto open = store.open_trials(sync.sweep_id);
  EXPECT_EQ(open.done, 2);
  EXPECT_EQ(open.failed, 1);
  ASSERT_EQ(open.trials.size(), 3u);
  EXPECT_EQ(open.trials[0].hash, all[1].hash);
  EXPECT_EQ(open.trials[1].hash, all[4].hash);
  EXPECT_EQ(open.trials[2].hash, all[5].hash);
  EXPECT_EQ(open.trials[1].position, 4);
  EXPECT_EQ(open.trials[1].attempts, 1);
  EXPECT_EQ(open.trials[2].status, TrialStatus::running);
  for (const auto& t : open.trials) {
    EXPECT_EQ(t.config.value("kind", ""), "noop") << "the coordinator needs the configuration";
    EXPECT_EQ(t.out_dir, all[static_cast<size_t>(t.position)].out_dir);
  }
}

TEST(ResultsStoreQueries, TrialStatesReadTheSameByLookupAndByScan) {
  TempDir dir;
  ResultsStore store = ResultsStore::open_for_writing((dir / "r.sqlite").string());
  const SweepSpec spec =
      parse_sweep("name: many\nkind: noop\nseeds: {start: 0, count: 1500}\n", "t.yaml", ".");
  const auto sync = store.sync_sweep(spec, plan_sweep(spec), (dir / "art").string(), false);
  const auto all = store.sweep_trials(sync.sweep_id);
  RunInfo info;
  info.host = "node-a";
  const int64_t run = store.begin_run(sync.sweep_id, info, 30);
  for (size_t i = 0; i < all.size(); i += 7) {
    const int64_t a = store.start_attempt(all[i].hash, 1, run, AttemptStart{});
    TrialResult r;
    r.outcome = i % 2 ? Outcome::done : Outcome::error;
    store.finish_attempt(a, all[i].hash, r, i % 2 ? TrialStatus::done : TrialStatus::failed, 0);
  }
  std::vector<std::string> hashes;
  for (const auto& t : all) hashes.push_back(t.hash);
  hashes.push_back(std::string(64, 'f'));                 // not recorded
  const auto scanned = trial_states(store.db(), hashes);  // many: one pass over the table
  ASSERT_EQ(scanned.size(), all.size());
  EXPECT_EQ(scanned.count(std::string(64, 'f')), 0u);
  for (size_t i = 0; i < all.size(); i += 50) {
    const auto looked_up = trial_states(store.db(), {all[i].hash});  // few: a lookup each
    ASSERT_EQ(looked_up.size(), 1u);
    const TrialState& a = looked_up.at(all[i].hash);
    const TrialState& b = scanned.at(all[i].hash);
    EXPECT_EQ(a.status, b.status);
    EXPECT_EQ(a.attempts, b.attempts);
    EXPECT_EQ(a.outcome, b.outcome);
    EXPECT_EQ(a.status, i % 7 ? "pending" : i % 2 ? "done" : "failed") << i;
  }
}

// --- record_step ------------------------------------------------------------------------

TEST(ResultsStoreSteps, ReplayedStepsReplaceInsteadOfDuplicating) {
  Fixture f;
  const std::string& hash = f.trials[0].hash;
  const int64_t a1 = f.store.start_attempt(hash, 1, f.run_id, AttemptStart{});
  for (int step = 1; step <= 10; ++step)
    f.store.record_step(hash, a1, "train", step, 5.0 - 0.1 * step, 1e-3, 1000.0, std::nullopt);
  f.store.record_step(hash, a1, "val", 10, 4.2, std::nullopt, std::nullopt, std::nullopt);
  // The resumed attempt recomputes (and a replay resends) steps 6..12.
  const int64_t a2 = f.store.start_attempt(hash, 2, f.run_id, AttemptStart{});
  for (int step = 6; step <= 12; ++step)
    f.store.record_step(hash, a2, "train", step, 5.0 - 0.1 * step, 1e-3, 2000.0, 0.25);
  f.store.record_step(hash, a2, "val", 10, 4.2, std::nullopt, std::nullopt, std::nullopt);

  EXPECT_EQ(count(f.store, "SELECT count(*) FROM step_metrics WHERE split = 'train'"), 12);
  EXPECT_EQ(count(f.store, "SELECT count(DISTINCT step) FROM step_metrics WHERE split = 'train'"),
            12);
  EXPECT_EQ(count(f.store, "SELECT count(*) FROM step_metrics WHERE split = 'val'"), 1);
  EXPECT_EQ(
      count(f.store, "SELECT count(*) FROM step_metrics WHERE attempt_id = " + std::to_string(a1)),
      5);
  EXPECT_EQ(text(f.store,
                 "SELECT tokens_per_s || ' ' || penalty FROM step_metrics WHERE split = 'train' "
                 "AND step = 8"),
            "2000.0 0.25");
  EXPECT_EQ(
      count(f.store, "SELECT penalty IS NULL FROM step_metrics WHERE split = 'train' AND step = 3"),
      1);
}

TEST(ResultsStoreBatch, UncommittedBatchIsRolledBackCommittedOneSurvives) {
  TempDir dir;
  const std::string path = (dir / "r.sqlite").string();
  std::string hash;
  {
    ResultsStore store = ResultsStore::open_for_writing(path);
    const SweepSpec spec = noop_spec("0.1");
    const auto sync = store.sync_sweep(spec, plan_sweep(spec), (dir / "art").string(), false);
    hash = store.sweep_trials(sync.sweep_id)[0].hash;
    RunInfo info;
    info.host = "node-a";
    const int64_t run = store.begin_run(sync.sweep_id, info, 30);
    store.begin_batch();
    EXPECT_TRUE(store.in_batch());
    const int64_t a = store.start_attempt(hash, 1, run, AttemptStart{});
    store.record_step(hash, a, "train", 1, 3.0, std::nullopt, std::nullopt, std::nullopt);
    store.commit_batch();
    EXPECT_FALSE(store.in_batch());
    store.begin_batch();
    store.record_step(hash, a, "train", 2, 2.9, std::nullopt, std::nullopt, std::nullopt);
    // Destroyed with the batch open: as if the coordinator were killed before its commit.
  }
  ResultsStore store = ResultsStore::open_for_writing(path);
  EXPECT_EQ(count(store, "SELECT count(*) FROM attempts"), 1);
  EXPECT_EQ(count(store, "SELECT count(*) FROM step_metrics"), 1);
  EXPECT_EQ(text(store, "PRAGMA journal_mode"), "wal");
}

// --- open_for_writing -------------------------------------------------------------------

TEST(ResultsStoreOpen, CreatesTheSchemaOnceAndReopens) {
  TempDir dir;
  const std::string path = (dir / "r.sqlite").string();
  { ResultsStore store = ResultsStore::open_for_writing(path); }
  ResultsStore store = ResultsStore::open_for_writing(path);
  EXPECT_EQ(schema_version(store.db()), kSchemaVersion);
  EXPECT_EQ(text(store, "SELECT value FROM meta WHERE key = 'application'"), "locsweep");
  EXPECT_EQ(count(store, "SELECT count(*) FROM meta"), 3);
}

struct BadFile {
  std::string name;
  std::function<void(const fs::path&)> make;  // creates the thing at the path
  std::string expected;                       // part of the message
};
class OpenRejects : public testing::TestWithParam<BadFile> {};

TEST_P(OpenRejects, WithInputErrorAndLeavesTheFileAsItWas) {
  TempDir dir;
  const fs::path path = dir / "r.sqlite";
  GetParam().make(path);
  const bool is_file = fs::is_regular_file(path);
  const std::string before = is_file ? file_bytes(path) : "";
  std::vector<fs::path> listing_before;
  for (const auto& e : fs::directory_iterator(path.parent_path()))
    listing_before.push_back(e.path());
  try {
    ResultsStore::open_for_writing(path.string());
    FAIL() << "expected InputError";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find(GetParam().expected), std::string::npos) << e.what();
  }
  if (is_file) {
    EXPECT_EQ(file_bytes(path), before);
  }
  std::vector<fs::path> listing_after;
  for (const auto& e : fs::directory_iterator(path.parent_path()))
    listing_after.push_back(e.path());
  std::sort(listing_before.begin(), listing_before.end());
  std::sort(listing_after.begin(), listing_after.end());
  EXPECT_EQ(listing_after, listing_before) << "no journal files may be left next to it";
}

void sqlite_file(const fs::path& path, const std::string& sql) {
  Database db(path.string(), Database::Mode::read_write_create);
  db.exec(sql);
}

INSTANTIATE_TEST_SUITE_P(
    ResultsStore, OpenRejects,
    testing::Values(
        BadFile{"folder", [](const fs::path& p) { fs::create_directories(p); }, "is a folder"},
        BadFile{"not_sqlite",
                [](const fs::path& p) {
                  std::ofstream(p) << std::string(3000, 'x') << "\nnot a database at all\n";
                },
                "not an SQLite file?"},
        BadFile{"other_application",
                [](const fs::path& p) {
                  sqlite_file(p, "CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT)");
                },
                "is an SQLite database but not a locsweep results database"},
        BadFile{"no_schema_version",
                [](const fs::path& p) {
                  sqlite_file(p,
                              "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT); "
                              "INSERT INTO meta VALUES ('application', 'locsweep')");
                },
                "not a locsweep results database (no schema_version)"},
        BadFile{
            "other_schema_version",
            [](const fs::path& p) {
              sqlite_file(
                  p,
                  "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT); "
                  "INSERT INTO meta VALUES ('schema_version', '999'), ('application', 'locsweep')");
            },
            "has results schema version 999"}),
    [](const auto& info) { return info.param.name; });

TEST(ResultsStoreOpen, MissingFolderIsNotCreated) {
  TempDir dir;
  const fs::path path = dir / "no" / "such" / "r.sqlite";
  EXPECT_THROW(ResultsStore::open_for_writing(path.string()), InputError);
  EXPECT_FALSE(fs::exists(dir / "no"));
}

}  // namespace
}  // namespace locsweep
