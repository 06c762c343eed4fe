#include "results/store.hpp"

#include <algorithm>
#include <filesystem>
#include <unordered_map>
#include <unordered_set>

#include <fmt/format.h>

#include <chrono>
#include <thread>

#include "results/lease.hpp"
#include "results/schema.hpp"
#include "results/stored_json.hpp"

namespace locsweep {
namespace fs = std::filesystem;

std::string_view to_string(TrialStatus s) {
  switch (s) {
    case TrialStatus::pending:
      return "pending";
    case TrialStatus::running:
      return "running";
    case TrialStatus::done:
      return "done";
    case TrialStatus::failed:
      return "failed";
    case TrialStatus::stopped:
      return "stopped";
  }
  return "?";
}

TrialStatus trial_status_from_string(std::string_view text) {
  for (auto s : {TrialStatus::pending, TrialStatus::running, TrialStatus::done, TrialStatus::failed,
                 TrialStatus::stopped})
    if (to_string(s) == text) return s;
  throw StoreError("unknown trial status '" + std::string(text) + "'");
}

namespace {

// Whether the sweep links at least a quarter of all recorded trials (and many): then one pass
// over the whole table beats an index lookup per trial (for 100,000 trials ~0.03 s instead of
// ~0.2 s), and re-registering a large sweep reads its links that way.
bool whole_table_cheaper(Database& db, int64_t sweep_id) {
  auto stmt = db.prepare(
      "SELECT (SELECT count(*) FROM sweep_trials WHERE sweep_id = ?), (SELECT count(*) FROM "
      "trials)");
  stmt.bind(1, sweep_id);
  if (!stmt.step()) return false;
  return stmt.integer(0) >= 1000 && stmt.integer(0) * 4 >= stmt.integer(1);
}

// A trial a sweep already links: its plan position and grid assignment (JSON text).
struct Link {
  int64_t position = 0;
  std::string assignment;
};
using LinkedTrials = std::unordered_map<std::string, Link>;

// The trials the sweep links now: re-registering a large sweep then writes only what changed,
// instead of rewriting 100,000 rows to add one.
LinkedTrials linked_trials(Database& db, int64_t sweep_id) {
  auto recorded = db.prepare(
      whole_table_cheaper(db, sweep_id)
          ? "SELECT trial_hash, position, assignment_json FROM sweep_trials WHERE +sweep_id = ?"
          : "SELECT trial_hash, position, assignment_json FROM sweep_trials WHERE sweep_id = ?");
  recorded.bind(1, sweep_id);
  LinkedTrials linked;
  while (recorded.step())
    linked.emplace(recorded.text(0), Link{recorded.integer(1), recorded.text(2)});
  return linked;
}

// InputError (nothing changed) when the sweep's trials that the plan no longer has include
// trials identified by path (recorded before schema version 3): their hashes ignore what they
// read, so they are never matched with the plan, and saying "a different spec" would mislead.
void refuse_path_identified(Database& db, const std::string& sweep, size_t linked, size_t missing) {
  auto stmt = db.prepare(
      "SELECT count(*) FROM sweep_trials st JOIN sweeps s ON s.id = st.sweep_id JOIN trials t ON "
      "t.hash = st.trial_hash WHERE s.name = ? AND t.kind = 'gpt2' AND "
      "json_extract(t.config_json, '$.inputs') IS NULL");
  stmt.bind(1, sweep);
  const int64_t old = stmt.step() ? stmt.integer(0) : 0;
  if (old == 0) return;
  throw InputError("sweep '" + sweep + "' in '" + db.path() + "' has " + std::to_string(old) +
                   " of its " + std::to_string(linked) +
                   " trials identified by path, recorded by a locsweep before trial identity by "
                   "content: their results may be of other data, so they are not reused (" +
                   std::to_string(missing) +
                   " recorded trials are not in the plan now). Pass --allow-spec-change to run "
                   "this plan beside them (every trial runs again; the old results are kept and "
                   "stay readable), or use a new --db file. Nothing was changed.");
}

// InputError (nothing changed) when the sweep links trials that the new plan no longer has:
// the spec is a different one, recorded only with --allow-spec-change.
void refuse_dropped_trials(Database& db, const std::string& sweep, const Plan& plan,
                           const LinkedTrials& linked) {
  if (linked.empty()) return;
  std::unordered_set<std::string_view> planned;
  planned.reserve(plan.trials.size());
  for (const auto& t : plan.trials) planned.insert(t.hash);
  size_t missing = 0;
  const std::string* missing_hash = nullptr;
  int64_t missing_position = 0;  // the example: the earliest of them in the recorded plan
  for (const auto& [hash, link] : linked)
    if (!planned.count(hash) && (missing++ == 0 || link.position < missing_position)) {
      missing_hash = &hash;
      missing_position = link.position;
    }
  if (missing == 0) return;
  refuse_path_identified(db, sweep, linked.size(), missing);
  auto label = db.prepare("SELECT label FROM trials WHERE hash = ?");
  label.bind(1, *missing_hash);
  const std::string example =
      (label.step() ? label.text(0) : "?") + "', trial " + missing_hash->substr(0, 12);
  throw InputError("sweep '" + sweep + "' is already in '" + db.path() +
                   "' with a different spec: " + std::to_string(missing) + " of its " +
                   std::to_string(linked.size()) + " recorded trials (e.g. '" + example +
                   ") are not in this spec. Give this spec another name, or pass "
                   "--allow-spec-change to record it (results so far are kept). Nothing was "
                   "changed.");
}

// Records the spec of a known sweep; returns whether its text changed.
bool update_sweep_row(Database& db, int64_t sweep_id, const SweepSpec& spec,
                      const std::string& now) {
  auto previous = db.prepare("SELECT spec_yaml FROM sweeps WHERE id = ?");
  previous.bind(1, sweep_id);
  const bool changed = previous.step() && previous.text(0) != spec.source;
  auto update =
      db.prepare("UPDATE sweeps SET spec_yaml = ?, spec_file = ?, updated_at = ? WHERE id = ?");
  update.bind(1, spec.source).bind(2, spec.file).bind(3, now).bind(4, sweep_id).run();
  return changed;
}

// Records a new sweep; returns its id.
int64_t insert_sweep_row(Database& db, const SweepSpec& spec, const std::string& now) {
  auto insert = db.prepare(
      "INSERT INTO sweeps(name, spec_yaml, spec_file, created_at, updated_at) VALUES (?, ?, ?, "
      "?, ?)");
  insert.bind(1, spec.name).bind(2, spec.source).bind(3, spec.file).bind(4, now).bind(5, now).run();
  return db.last_insert_rowid();
}

// Writes a sweep's planned trials: each statement prepared once for the whole plan.
class TrialRegistrar {
 public:
  TrialRegistrar(Database& db, int64_t sweep_id, std::string artifacts_root, std::string now)
      : db_(db),
        sweep_id_(sweep_id),
        artifacts_root_(std::move(artifacts_root)),
        now_(std::move(now)),
        insert_(db.prepare(
            "INSERT OR IGNORE INTO trials(hash, label, kind, mechanism, schedule, beta, seed, "
            "n_layer, config_json, canonical_json, cost, out_dir, created_at, base_hash) VALUES "
            "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")),
        refresh_(
            db.prepare("UPDATE trials SET config_json = ? WHERE hash = ? AND status IN ('pending', "
                       "'running', 'failed')")),
        link_(db.prepare(
            "INSERT INTO sweep_trials(sweep_id, trial_hash, position, assignment_json) VALUES "
            "(?, ?, ?, ?) ON CONFLICT(sweep_id, trial_hash) DO UPDATE SET position = "
            "excluded.position, assignment_json = excluded.assignment_json")) {}

  // Records the trial unless it is already recorded; returns whether it was new.
  bool insert(const PlannedTrial& t) {
    const nlohmann::json canon = canonical_json(t.config);
    const std::string out_dir =
        (fs::path(artifacts_root_) / "trials" / t.hash.substr(0, 16)).string();
    insert_.bind(1, t.hash).bind(2, t.label).bind(3, to_string(t.config.kind));
    if (t.config.kind == TrialKind::gpt2) {
      const Schedule& s = t.config.locality.schedule;
      insert_.bind(4, canon["locality"]["mechanism"].get<std::string>())
          .bind(5, canon["locality"]["schedule"].get<std::string>());
      if (s.kind() == Schedule::Kind::polynomial)
        insert_.bind(6, s.beta());
      else
        insert_.bind_null(6);
      insert_.bind(8, t.config.model.n_layer);
    } else {
      insert_.bind_null(4).bind_null(5).bind_null(6).bind_null(8);
    }
    insert_.bind(7, t.config.seed)
        .bind(9, to_json(t.config).dump())
        .bind(10, canon.dump())
        .bind(11, estimated_cost(t.config))
        .bind(12, out_dir)
        .bind(13, now_);
    if (t.base.empty())
      insert_.bind_null(14);
    else
      insert_.bind(14, t.base);
    insert_.run();
    return db_.changes() > 0;
  }

  // The trial's configuration as planned now, unless it has finished.
  void refresh_config(const PlannedTrial& t) {
    refresh_.bind(1, to_json(t.config).dump()).bind(2, t.hash).run();
  }

  // Links the trial to the sweep at `position` (or moves the link there).
  void link(const std::string& hash, int64_t position, const std::string& assignment) {
    link_.bind(1, sweep_id_).bind(2, hash).bind(3, position).bind(4, assignment).run();
  }

 private:
  Database& db_;
  int64_t sweep_id_;
  std::string artifacts_root_, now_;
  Statement insert_, refresh_, link_;
};

// The columns trial_record() reads, of `trials t` joined with its sweep link `st` and its
// base `b` (LEFT JOIN trials b ON b.hash = t.base_hash).
constexpr const char* kTrialRecordColumns =
    "t.hash, t.label, t.status, t.attempts, t.retries_used, t.last_step, st.position, t.cost, "
    "t.out_dir, t.config_json, COALESCE(t.base_hash, ''), COALESCE(b.label, ''), "
    "COALESCE(b.out_dir, ''), b.status";

// A row of kTrialRecordColumns.
TrialRecord trial_record(const Database& db, const Statement& stmt) {
  TrialRecord r;
  r.hash = stmt.text(0);
  r.label = stmt.text(1);
  r.status = trial_status_from_string(stmt.text(2));
  r.attempts = static_cast<int>(stmt.integer(3));
  r.retries_used = static_cast<int>(stmt.integer(4));
  r.last_step = static_cast<int>(stmt.integer(5));
  r.position = static_cast<int>(stmt.integer(6));
  r.cost = stmt.real(7);
  r.out_dir = stmt.text(8);
  r.config = parse_stored_json(db, stmt.text(9), "trials.config_json");
  r.base = stmt.text(10);
  r.base_label = stmt.text(11);
  r.base_out_dir = stmt.text(12);
  if (!stmt.is_null(13)) r.base_status = trial_status_from_string(stmt.text(13));
  return r;
}

}  // namespace

ResultsStore ResultsStore::open_for_writing(const std::string& path) {
  const bool exists = fs::exists(path);
  if (exists && fs::is_directory(path))
    throw InputError("--db '" + path + "' is a folder; give a file path such as results.sqlite");
  std::optional<Database> db;
  try {
    db.emplace(path, exists ? Database::Mode::read_write : Database::Mode::read_write_create);
  } catch (const StoreError& e) {
    throw InputError(std::string(e.what()) + " (is the folder writable?)");
  }
  // SQLite quietly opens a file it may not write read-only; reading a WAL database that way
  // would leave -wal/-shm files next to it. Refuse before the first read.
  if (sqlite3_db_readonly(db->handle(), "main") == 1)
    throw InputError(
        "cannot write the results database '" + path +
        "': the file is read-only (immutable, or on a read-only file system); choose a "
        "writable --db path");
  try {
    ensure_schema(*db, true);  // validates (and upgrades) before anything below writes
  } catch (const StoreError& e) {
    throw InputError("cannot write the results database '" + path + "': " + e.what() +
                     " (choose a writable --db path)");
  }
  try {
    // WAL: readers (status, results) never block the coordinator, nor it them.
    db->prepare("PRAGMA journal_mode = WAL").run();
    db->exec("PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON;");
    // A database we cannot write is found out here, before a run starts.
    db->exec("BEGIN IMMEDIATE; UPDATE meta SET value = value WHERE key = 'application'; COMMIT;");
  } catch (const StoreError& e) {
    throw InputError("cannot write the results database '" + path + "': " + e.what() +
                     " (choose a writable --db path)");
  }
  return ResultsStore(std::move(*db));
}

std::optional<int64_t> ResultsStore::sweep_id(const std::string& name) {
  auto stmt = db_.prepare("SELECT id FROM sweeps WHERE name = ?");
  stmt.bind(1, name);
  if (!stmt.step()) return std::nullopt;
  return stmt.integer(0);
}

ResultsStore::SyncResult ResultsStore::sync_sweep(const SweepSpec& spec, const Plan& plan,
                                                  const std::string& artifacts_root,
                                                  bool allow_spec_change) {
  Transaction tx(db_);
  SyncResult out;
  const std::string now = utc_now();
  LinkedTrials linked;
  bool spec_changed = false;
  if (auto id = sweep_id(spec.name)) {
    out.sweep_id = *id;
    linked = linked_trials(db_, *id);
    if (!allow_spec_change) refuse_dropped_trials(db_, spec.name, plan, linked);
    spec_changed = update_sweep_row(db_, *id, spec, now);
  } else {
    out.sweep_id = insert_sweep_row(db_, spec, now);
  }
  TrialRegistrar registrar(db_, out.sweep_id, artifacts_root, now);
  for (size_t i = 0; i < plan.trials.size(); ++i) {
    const PlannedTrial& t = plan.trials[i];
    const auto position = static_cast<int64_t>(i);
    const std::string assignment = t.assignment.dump();
    if (const auto it = linked.find(t.hash); it != linked.end()) {
      ++out.known_trials;
      // Unhashed keys (execution.timeout_s, record.*, ...) may have changed: trials still to
      // run get the new configuration; finished ones keep the one they ran with.
      if (spec_changed) registrar.refresh_config(t);
      if (it->second.position != position || it->second.assignment != assignment)
        registrar.link(t.hash, position, assignment);
      continue;
    }
    if (registrar.insert(t))
      ++out.new_trials;
    else
      ++out.known_trials;  // recorded by another sweep
    registrar.link(t.hash, position, assignment);
  }
  tx.commit();
  return out;
}

std::vector<TrialRecord> ResultsStore::add_trials(int64_t sweep_id,
                                                  const std::vector<PlannedTrial>& trials,
                                                  const std::string& artifacts_root) {
  Transaction tx(db_);
  auto linked = db_.prepare("SELECT 1 FROM sweep_trials WHERE sweep_id = ? AND trial_hash = ?");
  auto last =
      db_.prepare("SELECT COALESCE(MAX(position), -1) FROM sweep_trials WHERE sweep_id = ?");
  last.bind(1, sweep_id);
  int64_t position = last.step() ? last.integer(0) : -1;
  TrialRegistrar registrar(db_, sweep_id, artifacts_root, utc_now());
  std::vector<std::string> added;
  for (const PlannedTrial& t : trials) {
    linked.bind(1, sweep_id).bind(2, t.hash);
    const bool known = linked.step();
    linked.reset();
    if (known) continue;
    registrar.insert(t);  // false: recorded already (by another sweep, or this one's plan)
    registrar.link(t.hash, ++position, t.assignment.dump());
    added.push_back(t.hash);
  }
  std::vector<TrialRecord> out;
  auto record = db_.prepare(std::string("SELECT ") + kTrialRecordColumns +
                            " FROM trials t JOIN sweep_trials st ON st.sweep_id = ? AND "
                            "st.trial_hash = t.hash LEFT JOIN trials b ON b.hash = t.base_hash "
                            "WHERE t.hash = ? AND t.status = 'pending'");
  for (const std::string& hash : added) {
    record.bind(1, sweep_id).bind(2, hash);
    if (record.step()) out.push_back(trial_record(db_, record));
    record.reset();
  }
  tx.commit();
  return out;
}

std::vector<ResultsStore::RecordedRun> ResultsStore::running_runs() {
  auto stmt = db_.prepare(
      "SELECT id, host, pid, COALESCE(slurm_job_id, ''), COALESCE(process, ''), "
      "COALESCE(lease_s, 30), heartbeat_count || ' ' || heartbeat_at FROM runs "
      "WHERE status = 'running' ORDER BY id");
  std::vector<RecordedRun> out;
  while (stmt.step()) {
    RecordedRun r;
    r.id = stmt.integer(0);
    r.host = stmt.text(1);
    r.pid = stmt.integer(2);
    r.job = stmt.text(3);
    r.process = stmt.text(4);
    r.lease_s = stmt.real(5);
    r.heartbeat = stmt.text(6);
    out.push_back(std::move(r));
  }
  return out;
}

void ResultsStore::refuse(const RecordedRun& r, const std::string& why) {
  throw InputError(fmt::format(
      "another locsweep run (run {}, host {}, pid {}{}) is using '{}': {}. Wait for it to finish "
      "(or stop it: SIGTERM makes it checkpoint its trials and exit); a run that died on "
      "another machine, or is stopped, is taken over once its heartbeat has not advanced for "
      "its own lease ({:g} s)",
      r.id, r.host, r.pid, r.job.empty() ? "" : ", Slurm job " + r.job, db_.path(), why,
      r.lease_s));
}

LeaseCheck ResultsStore::check_no_live_run(const RunInfo& info) {
  (void)info;  // who asks does not matter: the same host, user or Slurm job is no exception
  LeaseCheck out;
  std::vector<RecordedRun> watched = runs_to_watch(out);
  using Clock = std::chrono::steady_clock;
  const auto began = Clock::now();
  auto last_note = began - std::chrono::hours(1);
  auto seconds_since = [](Clock::time_point t) {
    return std::chrono::duration<double>(Clock::now() - t).count();
  };
  while (!watched.empty()) {
    if (seconds_since(last_note) >= 10) {
      last_note = Clock::now();
      note_watched(watched, seconds_since(began));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    watched = watch_once(std::move(watched), out, seconds_since(began));
  }
  return out;
}

std::vector<ResultsStore::RecordedRun> ResultsStore::runs_to_watch(LeaseCheck& out) {
  std::vector<RecordedRun> watched;
  for (auto& r : running_runs()) {
    switch (recorded_process_liveness(r.host, r.pid, r.process)) {
      case Liveness::gone:
        out.dead[r.id] = r.heartbeat;
        break;
      case Liveness::running:
        refuse(r, "its process is running on this machine");
      case Liveness::stopped:
      case Liveness::unknown:
        watched.push_back(std::move(r));
        break;
    }
  }
  return watched;
}

void ResultsStore::note_watched(const std::vector<RecordedRun>& watched, double waited) {
  for (const auto& w : watched)
    fmt::print(stderr,
               "locsweep: run {} (host {}, pid {}) is recorded running on '{}' and its process "
               "is {} here: watching its heartbeat for its lease ({:g} s, {:.0f} s so far) "
               "before taking over\n",
               w.id, w.host, w.pid, db_.path(),
               recorded_process_liveness(w.host, w.pid, w.process) == Liveness::stopped
                   ? "stopped"
                   : "not visible",
               w.lease_s, waited);
}

std::vector<ResultsStore::RecordedRun> ResultsStore::watch_once(std::vector<RecordedRun> watched,
                                                                LeaseCheck& out, double elapsed) {
  std::map<int64_t, RecordedRun> now;
  for (auto& r : running_runs()) now.emplace(r.id, std::move(r));
  for (const auto& [id, r] : now) {
    const bool known =
        out.dead.count(id) > 0 || std::any_of(watched.begin(), watched.end(),
                                              [&](const RecordedRun& w) { return w.id == id; });
    if (!known) refuse(r, "it started while this run was checking the lease");
  }
  std::vector<RecordedRun> still;
  for (auto& w : watched) {
    const auto it = now.find(w.id);
    if (it == now.end()) continue;  // it ended by itself
    if (it->second.heartbeat != w.heartbeat)
      refuse(w, "its heartbeat advanced while this run watched it");
    const Liveness liveness = recorded_process_liveness(w.host, w.pid, w.process);
    if (liveness == Liveness::running)
      refuse(w, "its process is running on this machine (it was resumed)");
    if (liveness == Liveness::gone || elapsed >= w.lease_s)
      out.dead[w.id] = w.heartbeat;
    else
      still.push_back(std::move(w));
  }
  return still;
}

int64_t ResultsStore::begin_run(int64_t sweep_id, const RunInfo& info, double lease_s,
                                const LeaseCheck& checked) {
  Transaction tx(db_);
  // Under the write lock: exactly the runs found dead are still recorded running, unchanged.
  for (const auto& r : running_runs()) {
    const auto it = checked.dead.find(r.id);
    if (it == checked.dead.end() || it->second != r.heartbeat)
      refuse(r, "it started or refreshed its lease while this run was checking");
  }
  const std::string now = utc_now();
  close_dead_runs(checked, now);
  // No run is alive now, so no trial can be running.
  db_.exec("UPDATE trials SET status = 'pending' WHERE status = 'running'");
  const int64_t run_id = insert_run_row(sweep_id, info, lease_s, now);
  tx.commit();
  held_run_ = run_id;
  return run_id;
}

void ResultsStore::close_dead_runs(const LeaseCheck& checked, const std::string& now) {
  auto close_attempts = db_.prepare(
      "UPDATE attempts SET status = 'interrupted', outcome = 'preempted', ended_at = ?, "
      "message = 'its run ended without closing it (killed, or stopped past its lease); "
      "resumed from the last checkpoint' "
      "WHERE run_id = ? AND status = 'running'");
  auto close_run = db_.prepare(
      "UPDATE runs SET status = 'crashed', ended_at = ? WHERE id = ? AND status = 'running'");
  for (const auto& [id, heartbeat] : checked.dead) {
    close_attempts.bind(1, now).bind(2, id).run();
    close_run.bind(1, now).bind(2, id).run();
  }
}

int64_t ResultsStore::insert_run_row(int64_t sweep_id, const RunInfo& info, double lease_s,
                                     const std::string& now) {
  auto insert = db_.prepare(
      "INSERT INTO runs(sweep_id, host, pid, ranks, slurm_job_id, command, started_at, "
      "heartbeat_at, status, lease_s, heartbeat_count, process) "
      "VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'running', ?, 0, ?)");
  insert.bind(1, sweep_id).bind(2, info.host).bind(3, info.pid).bind(4, info.ranks);
  if (info.slurm_job_id.empty())
    insert.bind_null(5);
  else
    insert.bind(5, info.slurm_job_id);
  insert.bind(6, info.command).bind(7, now).bind(8, now).bind(9, lease_s).bind(10, info.process);
  insert.run();
  return db_.last_insert_rowid();
}

void ResultsStore::confirm_lease(int64_t run_id) {
  auto& mine = cached("SELECT status, COALESCE(lease_s, 30) FROM runs WHERE id = ?");
  mine.bind(1, run_id);
  const bool found = mine.step();
  const std::string status = found ? mine.text(0) : "missing";
  const double lease_s = found ? mine.real(1) : 0;
  mine.reset();
  if (status == "running") return;
  // The first run after this one is the one that took over.
  auto& taker = cached("SELECT id, host, pid FROM runs WHERE id > ? ORDER BY id LIMIT 1");
  taker.bind(1, run_id);
  const std::string by = taker.step() ? fmt::format("run {} (host {}, pid {})", taker.integer(0),
                                                    taker.text(1), taker.integer(2))
                                      : std::string("a later run");
  taker.reset();
  throw LeaseLost(fmt::format(
      "run {} lost its lease on '{}': {} took the database over (this run is recorded '{}') "
      "because this run's heartbeat had not advanced for its lease of {:g} s; was this process "
      "stopped or suspended? It stops here without writing anything more; the other run "
      "carries on with the sweep",
      run_id, db_.path(), by, status, lease_s));
}

size_t ResultsStore::retry_failed(int64_t sweep_id) {
  auto stmt = db_.prepare(
      "UPDATE trials SET status = 'pending', retries_used = 0 WHERE status = 'failed' AND hash IN "
      "(SELECT trial_hash FROM sweep_trials WHERE sweep_id = ?)");
  stmt.bind(1, sweep_id).run();
  return static_cast<size_t>(db_.changes());
}

void ResultsStore::heartbeat(int64_t run_id) {
  auto& stmt = cached(
      "UPDATE runs SET heartbeat_at = ?, heartbeat_count = heartbeat_count + 1 WHERE id = ?");
  stmt.bind(1, utc_now()).bind(2, run_id).run();
}

void ResultsStore::end_run(int64_t run_id, std::string_view status, const std::string& why) {
  commit_batch();
  Transaction tx(db_);
  confirm_lease(run_id);
  const std::string now = utc_now();
  auto attempts = db_.prepare(
      "UPDATE attempts SET status = 'interrupted', outcome = 'preempted', ended_at = ?, "
      "message = ? WHERE run_id = ? AND status = 'running'");
  attempts.bind(1, now)
      .bind(2, fmt::format("its run ended ({}{}) before the attempt reported; resumes from its "
                           "last checkpoint",
                           status, why.empty() ? "" : ": " + why))
      .bind(3, run_id)
      .run();
  db_.exec("UPDATE trials SET status = 'pending' WHERE status = 'running'");
  auto run = db_.prepare("UPDATE runs SET status = ?, ended_at = ?, heartbeat_at = ? WHERE id = ?");
  run.bind(1, status).bind(2, now).bind(3, now).bind(4, run_id).run();
  tx.commit();
  held_run_.reset();
}

std::vector<TrialRecord> ResultsStore::sweep_trials(int64_t sweep_id) {
  auto stmt = db_.prepare(std::string("SELECT ") + kTrialRecordColumns +
                          " FROM sweep_trials st JOIN trials t ON t.hash = st.trial_hash "
                          "LEFT JOIN trials b ON b.hash = t.base_hash "
                          "WHERE st.sweep_id = ? ORDER BY st.position");
  stmt.bind(1, sweep_id);
  std::vector<TrialRecord> out;
  while (stmt.step()) out.push_back(trial_record(db_, stmt));
  return out;
}

ResultsStore::OpenTrials ResultsStore::open_trials(int64_t sweep_id) {
  OpenTrials out;
  // CROSS JOIN fixes the loop order: the few unfinished trials (trials_by_status), then
  // their link to this sweep.
  auto stmt = db_.prepare(std::string("SELECT ") + kTrialRecordColumns +
                          " FROM trials t CROSS JOIN sweep_trials st "
                          "ON st.sweep_id = ? AND st.trial_hash = t.hash "
                          "LEFT JOIN trials b ON b.hash = t.base_hash "
                          "WHERE t.status IN ('pending', 'running')");
  stmt.bind(1, sweep_id);
  while (stmt.step()) out.trials.push_back(trial_record(db_, stmt));
  std::sort(out.trials.begin(), out.trials.end(),
            [](const TrialRecord& a, const TrialRecord& b) { return a.position < b.position; });
  auto counts = db_.prepare(
      "SELECT (SELECT count(*) FROM sweep_trials WHERE sweep_id = ?1), "
      "(SELECT count(*) FROM trials t CROSS JOIN sweep_trials st ON st.sweep_id = ?1 AND "
      "st.trial_hash = t.hash "
      "WHERE t.status = 'failed'), "
      "(SELECT count(*) FROM trials t CROSS JOIN sweep_trials st ON st.sweep_id = ?1 AND "
      "st.trial_hash = t.hash "
      "WHERE t.status = 'stopped')");
  counts.bind(1, sweep_id);
  counts.step();
  out.failed = static_cast<int>(counts.integer(1));
  out.stopped = static_cast<int>(counts.integer(2));
  out.done = static_cast<int>(counts.integer(0)) - out.failed - out.stopped -
             static_cast<int>(out.trials.size());
  return out;
}

Statement& ResultsStore::cached(const std::string& sql) {
  auto it = statements_.find(sql);
  if (it == statements_.end()) it = statements_.emplace(sql, db_.prepare(sql)).first;
  return it->second;
}

void ResultsStore::begin_batch() {
  if (batch_open_) return;
  db_.exec("BEGIN IMMEDIATE");  // waits for the write lock (sqlite.hpp), then holds it
  batch_open_ = true;
  try {
    if (held_run_) confirm_lease(*held_run_);
  } catch (...) {
    abandon_batch();
    throw;
  }
}

void ResultsStore::commit_batch() {
  if (!batch_open_) return;
  try {
    if (held_run_) confirm_lease(*held_run_);
    db_.exec("COMMIT");
  } catch (...) {
    abandon_batch();
    throw;
  }
  batch_open_ = false;
}

void ResultsStore::abandon_batch() {
  if (!batch_open_) return;
  sqlite3_exec(db_.handle(), "ROLLBACK", nullptr, nullptr, nullptr);
  batch_open_ = false;
}

int64_t ResultsStore::start_attempt(const std::string& hash, int number, int64_t run_id,
                                    const AttemptStart& s) {
  auto& insert = cached(
      "INSERT INTO attempts(trial_hash, number, run_id, worker_rank, host, pid, device, status, "
      "started_at, "
      "manifest_json) VALUES (?, ?, ?, ?, ?, ?, ?, 'running', ?, ?)");
  insert.bind(1, hash)
      .bind(2, number)
      .bind(3, run_id)
      .bind(4, s.worker_rank)
      .bind(5, s.host)
      .bind(6, s.pid)
      .bind(7, s.device)
      .bind(8, utc_now())
      .bind(9, s.manifest.dump())
      .run();
  const int64_t id = db_.last_insert_rowid();
  auto& trial = cached("UPDATE trials SET status = 'running', attempts = ? WHERE hash = ?");
  trial.bind(1, number).bind(2, hash).run();
  return id;
}

void ResultsStore::record_step(const std::string& hash, int64_t attempt_id,
                               const std::string& split, int64_t step, double loss,
                               std::optional<double> lr, std::optional<double> tokens_per_s,
                               std::optional<double> penalty) {
  // A resumed attempt recomputes the steps after its checkpoint; replace, never duplicate.
  auto& stmt = cached(
      "INSERT OR REPLACE INTO step_metrics(trial_hash, split, step, loss, lr, tokens_per_s, "
      "penalty, attempt_id) "
      "VALUES (?, ?, ?, ?, ?, ?, ?, ?)");
  stmt.bind(1, hash)
      .bind(2, split)
      .bind(3, step)
      .bind(4, loss)
      .bind(5, lr)
      .bind(6, tokens_per_s)
      .bind(7, penalty)
      .bind(8, attempt_id)
      .run();
}

void ResultsStore::record_checkpoint(const std::string& hash, int64_t step) {
  auto& stmt = cached("UPDATE trials SET last_step = ? WHERE hash = ?");
  stmt.bind(1, step).bind(2, hash).run();
}

void ResultsStore::finish_attempt(int64_t attempt_id, const std::string& hash, const TrialResult& r,
                                  TrialStatus trial_status, int retries_used) {
  const std::string now = utc_now();
  record_attempt_end(attempt_id, r, trial_status, now);
  record_trial_end(hash, r, trial_status, retries_used, now);
  if (trial_status == TrialStatus::done) record_trial_outputs(hash, r, now);
}

void ResultsStore::record_attempt_end(int64_t attempt_id, const TrialResult& r,
                                      TrialStatus trial_status, const std::string& now) {
  // Interrupted: it will resume (a trial failed for good ends its last attempt failed).
  // So is an attempt parked at an early-stopping rung (outcome rung), whatever ASHA decides.
  const bool resumes = ((r.outcome == Outcome::preempted || r.outcome == Outcome::disk_full) &&
                        trial_status == TrialStatus::pending) ||
                       r.outcome == Outcome::rung;
  const char* attempt_status = r.outcome == Outcome::done ? "done"
                               : resumes                  ? "interrupted"
                                                          : "failed";
  auto& attempt = cached(
      "UPDATE attempts SET status = ?, outcome = ?, message = ?, resumed_from = ?, steps_done = ?, "
      "ended_at = ?, device = COALESCE(NULLIF(?, ''), device) WHERE id = ?");
  attempt.bind(1, attempt_status)
      .bind(2, to_string(r.outcome))
      .bind(3, r.message)
      .bind(4, r.resumed_from)
      .bind(5, r.steps_done)
      .bind(6, now)
      .bind(7, r.device)
      .bind(8, attempt_id)
      .run();
}

void ResultsStore::record_trial_end(const std::string& hash, const TrialResult& r,
                                    TrialStatus trial_status, int retries_used,
                                    const std::string& now) {
  auto& trial = cached(
      "UPDATE trials SET status = ?, retries_used = ?, outcome = ?, message = ?, finished_at = ?, "
      "val_loss = ?, val_ppl = ?, val_tokens = ?, train_loss = ?, steps_done = ?, seconds = ? "
      "WHERE hash = ?");
  const bool done = trial_status == TrialStatus::done;
  trial.bind(1, to_string(trial_status))
      .bind(2, retries_used)
      .bind(3, to_string(r.outcome))
      .bind(4, r.message);
  if (trial_status == TrialStatus::done || trial_status == TrialStatus::failed)
    trial.bind(5, now);
  else
    trial.bind_null(5);
  if (done && r.val_tokens > 0) {
    trial.bind(6, r.val_loss).bind(7, r.val_ppl).bind(8, r.val_tokens).bind(9, r.train_loss);
  } else {
    trial.bind_null(6).bind_null(7).bind_null(8).bind_null(9);
  }
  trial.bind(10, r.steps_done).bind(11, r.seconds).bind(12, hash).run();
}

void ResultsStore::record_trial_outputs(const std::string& hash, const TrialResult& r,
                                        const std::string& now) {
  auto& head = cached(
      "INSERT OR REPLACE INTO head_metrics(trial_hash, layer, head, lambda, entropy_bits, "
      "entropy_norm, "
      "in_block_mass, mean_distance) VALUES (?, ?, ?, ?, ?, ?, ?, ?)");
  for (const auto& h : r.heads)
    head.bind(1, hash)
        .bind(2, h.layer)
        .bind(3, h.head)
        .bind(4, h.lambda)
        .bind(5, h.entropy_bits)
        .bind(6, h.entropy_norm)
        .bind(7, h.in_block_mass)
        .bind(8, h.mean_distance)
        .run();
  auto& artifact = cached(
      "INSERT OR REPLACE INTO artifacts(trial_hash, kind, path, bytes, sha256, created_at) VALUES "
      "(?, ?, ?, ?, ?, ?)");
  for (const auto& a : r.artifacts)
    artifact.bind(1, hash)
        .bind(2, a.kind)
        .bind(3, a.path)
        .bind(4, a.bytes)
        .bind(5, a.sha256)
        .bind(6, now)
        .run();
}

std::unordered_map<std::string, int> ResultsStore::preemption_streaks() {
  auto stmt = db_.prepare(
      "SELECT a.trial_hash, a.status, a.outcome, a.resumed_from, t.last_step FROM attempts a "
      "JOIN trials t ON t.hash = a.trial_hash WHERE t.status IN ('pending', 'running') AND "
      "a.trial_hash IN (SELECT trial_hash FROM attempts WHERE status = 'interrupted' AND "
      "outcome = 'preempted') ORDER BY a.trial_hash, a.number");
  struct Row {
    std::string status, outcome;
    std::optional<int64_t> resumed_from;
  };
  std::unordered_map<std::string, int> out;
  // One trial's attempts in order: the streak of interruptions that left no newer checkpoint.
  auto streak_of = [](const std::vector<Row>& rows, int64_t last_step) {
    int streak = 0;
    for (size_t i = 0; i < rows.size(); ++i) {
      const Row& a = rows[i];
      if (a.status == "done" || a.status == "failed" || a.outcome == "rung") {
        streak = 0;  // a rung reached is progress
      } else if (a.status == "interrupted" && a.outcome == "preempted") {
        const std::optional<int64_t> next_start =
            i + 1 < rows.size() ? rows[i + 1].resumed_from : std::optional<int64_t>(last_step);
        const bool progressed = a.resumed_from && next_start && *next_start > *a.resumed_from;
        streak = progressed ? 0 : streak + 1;
      }
    }
    return streak;
  };
  std::string hash;
  int64_t last_step = 0;
  std::vector<Row> rows;
  auto flush = [&] {
    if (const int n = rows.empty() ? 0 : streak_of(rows, last_step); n > 0) out[hash] = n;
    rows.clear();
  };
  while (stmt.step()) {
    if (stmt.text(0) != hash) {
      flush();
      hash = stmt.text(0);
    }
    rows.push_back({stmt.text(1), stmt.text(2),
                    stmt.is_null(3) ? std::nullopt : std::optional<int64_t>(stmt.integer(3))});
    last_step = stmt.integer(4);
  }
  flush();
  return out;
}

void ResultsStore::fail_preempted_trial(const std::string& hash, const std::string& message) {
  auto attempt = db_.prepare(
      "UPDATE attempts SET status = 'failed', message = ?1 WHERE trial_hash = ?2 AND number = "
      "(SELECT max(number) FROM attempts WHERE trial_hash = ?2)");
  attempt.bind(1, message).bind(2, hash).run();
  auto trial = db_.prepare(
      "UPDATE trials SET status = 'failed', outcome = 'preempted', message = ?, finished_at = ? "
      "WHERE hash = ?");
  trial.bind(1, message).bind(2, utc_now()).bind(3, hash).run();
}

void ResultsStore::fail_unstarted_trial(const std::string& hash, const std::string& message) {
  Statement& trial = cached(
      "UPDATE trials SET status = 'failed', outcome = 'error', message = ?, finished_at = ? "
      "WHERE hash = ?");
  trial.bind(1, message).bind(2, utc_now()).bind(3, hash).run();
}

void ResultsStore::stop_trial(const std::string& hash, int step, const std::string& message) {
  Statement& trial = cached(
      "UPDATE trials SET status = 'stopped', outcome = 'rung', message = ?, finished_at = ?, "
      "steps_done = ?, val_loss = NULL, val_ppl = NULL, val_tokens = NULL, train_loss = NULL "
      "WHERE hash = ?");
  trial.bind(1, message).bind(2, utc_now()).bind(3, step).bind(4, hash).run();
}

std::vector<ResultsStore::RungHistory> ResultsStore::rung_history(int64_t sweep_id,
                                                                  const std::vector<int>& steps) {
  std::vector<RungHistory> out;
  std::unordered_map<std::string, size_t> index;
  auto trials = db_.prepare(
      "SELECT t.hash, t.status, t.last_step, COALESCE(t.steps_done, 0), t.val_loss, "
      "EXISTS (SELECT 1 FROM trials d JOIN sweep_trials ds ON ds.trial_hash = d.hash AND "
      "ds.sweep_id = ?1 WHERE d.base_hash = t.hash) "
      "FROM sweep_trials st JOIN trials t ON t.hash = st.trial_hash WHERE st.sweep_id = ?1 "
      "ORDER BY st.position");
  trials.bind(1, sweep_id);
  while (trials.step()) {
    RungHistory h;
    h.hash = trials.text(0);
    h.status = trial_status_from_string(trials.text(1));
    h.last_step = static_cast<int>(trials.integer(2));
    h.steps_done = static_cast<int>(trials.integer(3));
    if (!trials.is_null(4)) h.val_loss = trials.real(4);
    h.is_base = trials.integer(5) != 0;
    index.emplace(h.hash, out.size());
    out.push_back(std::move(h));
  }
  auto vals = db_.prepare(
      "SELECT sm.trial_hash, sm.step, sm.loss FROM sweep_trials st JOIN step_metrics sm ON "
      "sm.trial_hash = st.trial_hash AND sm.split = 'val' WHERE st.sweep_id = ? AND "
      "sm.loss IS NOT NULL AND sm.step IN (SELECT value FROM json_each(?))");
  vals.bind(1, sweep_id).bind(2, nlohmann::json(steps).dump());
  while (vals.step()) {
    const auto it = index.find(vals.text(0));
    if (it != index.end()) out[it->second].val_at[static_cast<int>(vals.integer(1))] = vals.real(2);
  }
  return out;
}

void ResultsStore::record_slurm_job(int64_t sweep_id, const std::string& job_id,
                                    const std::string& script_path, const nlohmann::json& options) {
  auto stmt = db_.prepare(
      "INSERT OR REPLACE INTO slurm_jobs(job_id, sweep_id, script_path, options_json, "
      "submitted_at) "
      "VALUES (?, ?, ?, ?, ?)");
  stmt.bind(1, job_id)
      .bind(2, sweep_id)
      .bind(3, script_path)
      .bind(4, options.dump())
      .bind(5, utc_now())
      .run();
}

}  // namespace locsweep
