// The results store on real SQLite files: registering sweeps (new, extended, a clashing spec
// refused with nothing written), the run lease (a live holder is never displaced, whatever the
// newcomer's lease or Slurm job; a gone, recycled or zombie holder is taken over at once; a
// stopped or remote one after its own lease without a heartbeat, clock skew notwithstanding;
// the old holder's writes are fenced off), a busy database waited on, attempt status
// transitions, the idempotent per-step upsert, batches that vanish unless committed, schema 1
// upgraded in place, and the files open_for_writing refuses.
#include <gtest/gtest.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <functional>
#include <sstream>
#include <thread>

#include "common/error.hpp"
#include "results/lease.hpp"
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

// Advances run 1's heartbeat counter every 100 ms from a connection of its own, as a live
// holder elsewhere would (heartbeat_at optionally skewed by `skew` into the past or future).
class Heartbeats {
 public:
  Heartbeats(const std::string& path, std::string skew)
      : thread_([this, path, skew] {
          Database db(path, Database::Mode::read_write);
          while (!stop_) {
            db.exec(
                "UPDATE runs SET heartbeat_count = heartbeat_count + 1, heartbeat_at = "
                "strftime('%Y-%m-%dT%H:%M:%fZ', 'now', '" +
                skew + "') WHERE id = 1");
            std::this_thread::sleep_for(std::chrono::milliseconds(100));
          }
        }) {}
  ~Heartbeats() {
    stop_ = true;
    thread_.join();
  }

 private:
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

enum class Holder {
  running,       // a live process on this host, recorded with its identity
  stopped,       // the same, SIGSTOPped
  dead,          // its pid has exited
  zombie,        // exited, not reaped
  recycled,      // the pid is alive but its start time is not the recorded one
  legacy_other,  // a schema-1 row (no identity) whose pid is alive but not locsweep
  other_host,    // recorded on another machine
};
struct LeaseCase {
  std::string name;
  Holder holder;
  double holder_lease_s;  // the holder's own lease
  bool heartbeating;      // its counter advances while the newcomer watches
  std::string skew;       // heartbeat_at offset ("+1 day": clock in the future)
  bool same_slurm_job;
  bool refused;
  double min_wait_s;  // the newcomer watched at least this long
};
class RunLease : public testing::TestWithParam<LeaseCase> {};

TEST_P(RunLease, LiveHolderIsNeverDisplacedDeadOneIsTakenOver) {
  const LeaseCase& c = GetParam();
  TempDir dir;
  const std::string path = (dir / "r.sqlite").string();
  FakeCoordinator coordinator;
  ResultsStore store = ResultsStore::open_for_writing(path);
  const SweepSpec spec = noop_spec("0.1");
  const auto sync = store.sync_sweep(spec, plan_sweep(spec), (dir / "art").string(), false);
  const auto trials = store.sweep_trials(sync.sweep_id);

  pid_t zombie = -1;
  RunInfo first;
  first.host = c.holder == Holder::other_host ? "node-elsewhere" : host_name();
  first.pid = coordinator.pid();
  first.process = process_identity(coordinator.pid());
  first.slurm_job_id = "4711";
  switch (c.holder) {
    case Holder::stopped: {
      // A stop signal is delivered asynchronously: wait until the holder is really stopped
      // (on a loaded machine it may still be running when the newcomer looks).
      ::kill(coordinator.pid(), SIGSTOP);
      int status = 0;
      ASSERT_EQ(::waitpid(coordinator.pid(), &status, WUNTRACED), coordinator.pid());
      ASSERT_TRUE(WIFSTOPPED(status));
      break;
    }
    case Holder::dead:
      first.pid = dead_pid();
      break;
    case Holder::zombie: {
      const char* argv[] = {"true", nullptr};
      ASSERT_EQ(
          posix_spawn(&zombie, "/bin/true", nullptr, nullptr, const_cast<char**>(argv), environ),
          0);
      first.pid = zombie;
      first.process = process_identity(zombie);
      siginfo_t info{};
      ::waitid(P_PID, static_cast<id_t>(zombie), &info, WEXITED | WNOWAIT);  // exited, unreaped
      break;
    }
    case Holder::recycled:
      first.process = first.process.substr(0, first.process.rfind('/') + 1) + "1";
      break;
    case Holder::legacy_other:
      first.pid = ::getpid();  // alive, but unit_tests is not locsweep
      first.process = "";
      break;
    default:
      break;
  }
  const int64_t run1 = store.begin_run(sync.sweep_id, first, c.holder_lease_s);
  const int64_t attempt = store.start_attempt(trials[0].hash, 1, run1, AttemptStart{});
  store.record_checkpoint(trials[0].hash, 20);
  if (!c.skew.empty())
    store.db().exec("UPDATE runs SET heartbeat_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now', '" +
                    c.skew + "')");

  // The newcomer: its own --lease is irrelevant (1 s); it may share the Slurm job id.
  ResultsStore second_store = ResultsStore::open_for_writing(path);
  RunInfo second;
  second.host = host_name();
  second.pid = ::getpid();
  second.process = process_identity(::getpid());
  second.slurm_job_id = c.same_slurm_job ? "4711" : "";
  std::optional<Heartbeats> beating;
  if (c.heartbeating) beating.emplace(path, c.skew.empty() ? "+0 seconds" : c.skew);
  const auto began = std::chrono::steady_clock::now();
  if (c.refused) {
    try {
      second_store.check_no_live_run(second);
      FAIL() << "check_no_live_run: expected InputError";
    } catch (const InputError& e) {
      EXPECT_NE(std::string(e.what()).find("another locsweep run (run 1"), std::string::npos)
          << e.what();
    }
    beating.reset();
    const std::string before = contents(store);
    EXPECT_THROW(second_store.begin_run(sync.sweep_id, second, 1, LeaseCheck{}), InputError);
    EXPECT_EQ(contents(store), before) << "a refused run must write nothing";
    EXPECT_EQ(text(store, "SELECT status FROM runs"), "running");
    EXPECT_EQ(text(store, "SELECT status FROM attempts"), "running");
    ::kill(coordinator.pid(), SIGCONT);
    if (zombie > 0) ::waitpid(zombie, nullptr, 0);
    return;
  }
  const LeaseCheck check = second_store.check_no_live_run(second);
  const double waited =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - began).count();
  EXPECT_GE(waited, c.min_wait_s) << "taken over before its own lease was over";
  EXPECT_LT(waited, c.min_wait_s + 10);
  const int64_t run2 = second_store.begin_run(sync.sweep_id, second, 1, check);
  ::kill(coordinator.pid(), SIGCONT);
  if (zombie > 0) ::waitpid(zombie, nullptr, 0);
  EXPECT_GT(run2, run1);
  EXPECT_EQ(text(store, "SELECT status || ' ' || (ended_at IS NOT NULL) FROM runs WHERE id = " +
                            std::to_string(run1)),
            "crashed 1");
  EXPECT_EQ(
      text(store, "SELECT status || ' ' || lease_s FROM runs WHERE id = " + std::to_string(run2)),
      "running 1.0")
      << "the newcomer's row carries its own lease";
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
  // Fencing: the old holder's next batch finds it lost the lease and writes nothing.
  const std::string before = contents(store);
  EXPECT_THROW(store.begin_batch(), LeaseLost);
  EXPECT_FALSE(store.in_batch());
  EXPECT_THROW(store.end_run(run1, "complete"), LeaseLost);
  EXPECT_EQ(contents(second_store), before);
}

INSTANTIATE_TEST_SUITE_P(
    ResultsStore, RunLease,
    testing::Values(
        // A live holder: refused at once, whatever the newcomer's lease or Slurm job.
        LeaseCase{"running_this_host", Holder::running, 30, false, "", false, true, 0},
        LeaseCase{"running_same_slurm_job", Holder::running, 30, false, "", true, true, 0},
        LeaseCase{"running_heartbeat_in_the_past", Holder::running, 1, false, "-1 day", false, true,
                  0},
        // Gone for sure: taken over at once.
        LeaseCase{"dead_pid", Holder::dead, 30, false, "", false, false, 0},
        LeaseCase{"zombie", Holder::zombie, 30, false, "", false, false, 0},
        LeaseCase{"recycled_pid", Holder::recycled, 30, false, "", false, false, 0},
        LeaseCase{"legacy_row_recycled_pid", Holder::legacy_other, 30, false, "", false, false, 0},
        // Stopped, or on another machine: its heartbeat counter decides, over its own lease.
        LeaseCase{"stopped_past_its_lease", Holder::stopped, 1.5, false, "", false, false, 1.5},
        LeaseCase{"stopped_same_slurm_job", Holder::stopped, 1, false, "", true, false, 1},
        LeaseCase{"stopped_but_heartbeating", Holder::stopped, 2, true, "", false, true, 0},
        LeaseCase{"other_host_silent", Holder::other_host, 1.5, false, "", false, false, 1.5},
        LeaseCase{"other_host_silent_heartbeat_in_the_future", Holder::other_host, 1, false,
                  "+1 day", false, false, 1},
        LeaseCase{"other_host_heartbeating", Holder::other_host, 2, true, "", false, true, 0},
        LeaseCase{"other_host_heartbeating_clock_behind", Holder::other_host, 2, true, "-1 day",
                  false, true, 0}),
    [](const auto& info) { return info.param.name; });

// kill(pid, 0) fails with EPERM for another user's process: it exists, so it is alive.
TEST(ResultsStoreLease, ProcessOfAnotherUserIsAlive) {
  pid_t target = ::getpid();
  if (::geteuid() != 0) {
    target = 1;  // init: root's, EPERM for us
    ASSERT_NE(::kill(1, 0), 0);
    ASSERT_EQ(errno, EPERM);
    EXPECT_NE(recorded_process_liveness(host_name(), 1, process_identity(1)), Liveness::gone);
    return;
  }
  // As root: a child that drops to nobody looks at this (root's) process.
  const std::string identity = process_identity(target);
  ASSERT_FALSE(identity.empty());
  const pid_t child = ::fork();
  if (child == 0) {
    if (::setgid(65534) != 0 || ::setuid(65534) != 0) ::_exit(10);
    if (::kill(target, 0) == 0 || errno != EPERM) ::_exit(11);
    ::_exit(recorded_process_liveness(host_name(), target, identity) == Liveness::running ? 0 : 12);
  }
  int status = 0;
  ::waitpid(child, &status, 0);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0) << "10: cannot drop privileges, 11: no EPERM, 12: not alive";
}

TEST(ResultsStoreLease, EndRunClosesWhatIsStillOpen) {
  TempDir dir;
  ResultsStore store = ResultsStore::open_for_writing((dir / "r.sqlite").string());
  const SweepSpec spec = noop_spec("0.1");
  const auto sync = store.sync_sweep(spec, plan_sweep(spec), (dir / "art").string(), false);
  const auto trials = store.sweep_trials(sync.sweep_id);
  RunInfo info;
  info.host = host_name();
  info.pid = ::getpid();
  const int64_t run = store.begin_run(sync.sweep_id, info, 30);
  store.begin_batch();
  store.start_attempt(trials[0].hash, 1, run, AttemptStart{});
  store.commit_batch();
  store.begin_batch();
  store.start_attempt(trials[1].hash, 1, run, AttemptStart{});  // never committed
  store.abandon_batch();
  store.end_run(run, "failed", "disk I/O error");
  EXPECT_EQ(text(store, "SELECT status FROM runs"), "failed");
  EXPECT_EQ(text(store, "SELECT status || ' ' || outcome || ' ' || message FROM attempts"),
            "interrupted preempted its run ended (failed: disk I/O error) before the attempt "
            "reported; resumes from its last checkpoint");
  EXPECT_EQ(count(store, "SELECT count(*) FROM attempts"), 1);
  EXPECT_EQ(count(store, "SELECT count(*) FROM trials WHERE status = 'running'"), 0);
}

// A heartbeat advances the counter a newcomer watches.
TEST(ResultsStoreLease, HeartbeatAdvancesTheCounter) {
  Fixture f;
  f.store.begin_batch();
  f.store.heartbeat(f.run_id);
  f.store.heartbeat(f.run_id);
  f.store.commit_batch();
  EXPECT_EQ(count(f.store, "SELECT heartbeat_count FROM runs"), 2);
}

// --- a busy database --------------------------------------------------------------------

TEST(ResultsStoreBusy, WriterWaitsForALongTransactionAndSaysSo) {
  TempDir dir;
  const std::string path = (dir / "r.sqlite").string();
  ResultsStore store = ResultsStore::open_for_writing(path);
  std::vector<std::string> lines;
  store.db().busy().report_every_s = 0.3;
  store.db().busy().report = [&](const std::string& line) { lines.push_back(line); };
  std::atomic<bool> locked{false};
  std::thread other([&] {
    Database db(path, Database::Mode::read_write);
    db.exec("BEGIN EXCLUSIVE; UPDATE meta SET value = 'x' WHERE key = 'created_at'");
    locked = true;
    std::this_thread::sleep_for(std::chrono::milliseconds(1500));
    db.exec("COMMIT");
  });
  while (!locked) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  const auto began = std::chrono::steady_clock::now();
  {
    Transaction tx(store.db());
    store.db().exec("UPDATE meta SET value = 'y' WHERE key = 'created_at'");
    tx.commit();
  }
  other.join();
  EXPECT_GE(std::chrono::duration<double>(std::chrono::steady_clock::now() - began).count(), 1.0);
  EXPECT_EQ(text(store, "SELECT value FROM meta WHERE key = 'created_at'"), "y");
  ASSERT_GE(lines.size(), 2u);
  EXPECT_NE(lines.front().find("waiting for the results database '" + path +
                               "': another process holds its write lock"),
            std::string::npos)
      << lines.front();
  EXPECT_NE(lines.back().find("is free again"), std::string::npos) << lines.back();
}

TEST(ResultsStoreBusy, NestedTransactionIsASavepoint) {
  TempDir dir;
  ResultsStore store = ResultsStore::open_for_writing((dir / "r.sqlite").string());
  {
    Transaction outer(store.db());
    store.db().exec("INSERT INTO meta VALUES ('a', '1')");
    {
      Transaction inner(store.db());
      store.db().exec("INSERT INTO meta VALUES ('b', '2')");
    }  // rolled back to its savepoint only
    {
      Transaction inner(store.db());
      store.db().exec("INSERT INTO meta VALUES ('c', '3')");
      inner.commit();
    }
    outer.commit();
  }
  EXPECT_EQ(text(store, "SELECT group_concat(key) FROM meta WHERE key IN ('a', 'b', 'c')"), "a,c");
}

// A schema-2 database (no trials.base_hash) is read as it is and upgraded by a writer; its
// trials have no base.
TEST(ResultsStoreOpen, SchemaTwoGetsTheBaseColumn) {
  TempDir dir;
  const std::string path = (dir / "r.sqlite").string();
  {
    ResultsStore store = ResultsStore::open_for_writing(path);
    store.db().exec(
        "DROP INDEX trials_by_base; ALTER TABLE trials DROP COLUMN base_hash; UPDATE meta SET "
        "value = '2' WHERE key = 'schema_version'; INSERT INTO trials(hash, label, kind, seed, "
        "config_json, canonical_json, out_dir, created_at) VALUES ('h', 'l', 'noop', 0, '{}', "
        "'{}', '/x', 't')");
  }
  {
    Database reader(path, Database::Mode::read_only);
    ensure_schema(reader, false);
    EXPECT_EQ(schema_version(reader), 2) << "a reader changes nothing";
    EXPECT_FALSE(has_column(reader, "trials", "base_hash"));
  }
  ResultsStore store = ResultsStore::open_for_writing(path);
  EXPECT_EQ(schema_version(store.db()), kSchemaVersion);  // 2 -> 3 -> 4 in one go
  EXPECT_TRUE(has_column(store.db(), "trials", "base_hash"));
  EXPECT_EQ(text(store, "SELECT hash || ' ' || (base_hash IS NULL) FROM trials"), "h 1");
}

// A schema-1 database (no lease columns) is read as it is and upgraded by a writer.
TEST(ResultsStoreOpen, SchemaOneIsUpgradedInPlace) {
  TempDir dir;
  const std::string path = (dir / "r.sqlite").string();
  {
    ResultsStore store = ResultsStore::open_for_writing(path);
    store.db().exec(
        "ALTER TABLE runs DROP COLUMN lease_s; ALTER TABLE runs DROP COLUMN heartbeat_count; "
        "ALTER TABLE runs DROP COLUMN process; UPDATE meta SET value = '1' WHERE key = "
        "'schema_version'; INSERT INTO sweeps VALUES (1, 's', '', NULL, 'x', 'x'); INSERT INTO "
        "runs VALUES (1, 1, 'elsewhere', 7, 1, NULL, NULL, 'x', 'x', 'x', 'complete')");
  }
  {
    Database reader(path, Database::Mode::read_only);
    ensure_schema(reader, false);
    EXPECT_EQ(schema_version(reader), 1) << "a reader changes nothing";
  }
  ResultsStore store = ResultsStore::open_for_writing(path);
  EXPECT_EQ(schema_version(store.db()), kSchemaVersion);
  EXPECT_EQ(text(store,
                 "SELECT host || ' ' || heartbeat_count || ' ' || (lease_s IS NULL) FROM "
                 "runs"),
            "elsewhere 0 1");
}

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

// --- the preemption budget's streak -------------------------------------------------------

// Attempts of one trial as "outcome@resumed_from" (resumed_from '-' = unknown), the trial's
// last checkpoint, and the streak preemption_streaks() must count.
struct StreakCase {
  const char* name;
  std::vector<std::string> attempts;
  int last_step;
  int streak;
};

class PreemptionStreaks : public testing::TestWithParam<StreakCase> {};

TEST_P(PreemptionStreaks, CountOnlyInterruptionsThatLeftNoNewerCheckpoint) {
  const StreakCase& c = GetParam();
  Fixture f;
  const std::string& hash = f.trials[0].hash;
  int number = 0;
  for (const std::string& a : c.attempts) {
    const size_t at = a.find('@');
    TrialResult r;
    r.outcome = a.substr(0, at) == "preempted" ? Outcome::preempted : Outcome::crash;
    const int64_t id = f.store.start_attempt(hash, ++number, f.run_id, AttemptStart{});
    const std::string from = a.substr(at + 1);
    f.store.finish_attempt(id, hash, r, TrialStatus::pending, 0);
    if (from == "-")
      f.store.db().exec("UPDATE attempts SET resumed_from = NULL WHERE id = " + std::to_string(id));
    else
      f.store.db().exec("UPDATE attempts SET resumed_from = " + from +
                        " WHERE id = " + std::to_string(id));
  }
  f.store.record_checkpoint(hash, c.last_step);
  const auto streaks = f.store.preemption_streaks();
  const auto it = streaks.find(hash);
  EXPECT_EQ(it == streaks.end() ? 0 : it->second, c.streak);
}

INSTANTIATE_TEST_SUITE_P(
    ResultsStore, PreemptionStreaks,
    testing::Values(
        // A trial that kills its own job: never a checkpoint, every attempt counts.
        StreakCase{"no_progress", {"preempted@0", "preempted@0", "preempted@0"}, 0, 3},
        // Preempted often, but each attempt left a later checkpoint (a long trial on short
        // time limits): no streak at all.
        StreakCase{"always_progressing", {"preempted@0", "preempted@100", "preempted@200"}, 300, 0},
        // Progress, then stuck at step 200 twice.
        StreakCase{
            "stuck_after_progress", {"preempted@0", "preempted@200", "preempted@200"}, 200, 2},
        // Start step unknown (the run was killed before recording it): no progress.
        StreakCase{"unknown_start", {"preempted@-", "preempted@-"}, 100, 2},
        // A failed attempt ends the streak.
        StreakCase{"failed_resets", {"preempted@0", "crash@0", "preempted@0"}, 0, 1}),
    [](const auto& info) { return info.param.name; });

}  // namespace
}  // namespace locsweep
