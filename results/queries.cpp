#include "results/queries.hpp"

#include <filesystem>
#include <string_view>
#include <unordered_set>

#include "results/schema.hpp"

namespace locsweep {

Database open_results_read_only(const std::string& path) {
  if (!std::filesystem::exists(path))
    throw InputError("no results database at '" + path + "' (run a sweep with --db " + path +
                     " first)");
  Database db(path, Database::Mode::read_only);
  ensure_schema(db, false);
  return db;
}

namespace {

// Columns 1..4 of a "hash, status, attempts, val_ppl, outcome" row.
TrialState trial_state(const Statement& stmt) {
  TrialState s;
  s.status = stmt.text(1);
  s.attempts = static_cast<int>(stmt.integer(2));
  if (!stmt.is_null(3)) s.val_ppl = stmt.real(3);
  s.outcome = stmt.text(4);
  return s;
}

}  // namespace

std::map<std::string, TrialState> trial_states(Database& db,
                                               const std::vector<std::string>& hashes) {
  std::map<std::string, TrialState> out;
  // For many hashes one pass over the table beats a B-tree descent per hash (on a 100,000-
  // trial sweep the lookups were a quarter of `plan --db`).
  auto total = db.prepare("SELECT count(*) FROM trials");
  const int64_t recorded = total.step() ? total.integer(0) : 0;
  if (hashes.size() >= 1000 && static_cast<int64_t>(hashes.size()) * 4 >= recorded) {
    const std::unordered_set<std::string_view> wanted(hashes.begin(), hashes.end());
    auto all = db.prepare("SELECT hash, status, attempts, val_ppl, outcome FROM trials");
    while (all.step()) {
      std::string hash = all.text(0);
      if (wanted.count(hash)) out.emplace(std::move(hash), trial_state(all));
    }
    return out;
  }
  auto stmt =
      db.prepare("SELECT hash, status, attempts, val_ppl, outcome FROM trials WHERE hash = ?");
  for (const auto& h : hashes) {
    stmt.bind(1, h);
    if (stmt.step()) out[h] = trial_state(stmt);
    stmt.reset();
  }
  return out;
}

std::vector<RunningTrial> running_trials(Database& db, int64_t sweep_id) {
  auto stmt = db.prepare(
      "SELECT t.hash, t.label, coalesce(a.host, ''), coalesce(a.device, ''), "
      "coalesce(a.started_at, ''), coalesce(a.worker_rank, 0), t.attempts, t.last_step, "
      "(SELECT max(m.step) FROM step_metrics m WHERE m.trial_hash = t.hash AND m.split = "
      "'train') "
      "FROM trials t INDEXED BY trials_by_status "
      "JOIN sweep_trials st ON st.trial_hash = t.hash AND st.sweep_id = ? "
      "LEFT JOIN attempts a ON a.trial_hash = t.hash AND a.number = t.attempts "
      "WHERE t.status = 'running' ORDER BY a.worker_rank, st.position");
  stmt.bind(1, sweep_id);
  std::vector<RunningTrial> out;
  while (stmt.step()) {
    RunningTrial r;
    r.hash = stmt.text(0);
    r.label = stmt.text(1);
    r.host = stmt.text(2);
    r.device = stmt.text(3);
    r.started_at = stmt.text(4);
    r.rank = static_cast<int>(stmt.integer(5));
    r.attempt = static_cast<int>(stmt.integer(6));
    r.checkpoint_step = stmt.integer(7);
    r.step = stmt.is_null(8) ? 0 : stmt.integer(8);
    out.push_back(std::move(r));
  }
  return out;
}

std::vector<SweepProgress> sweep_progress(Database& db, const std::string& only) {
  std::vector<SweepProgress> out;
  auto sweeps = db.prepare("SELECT id, name FROM sweeps WHERE ? = '' OR name = ? ORDER BY id");
  sweeps.bind(1, only).bind(2, only);
  while (sweeps.step()) {
    SweepProgress p;
    const int64_t id = sweeps.integer(0);
    p.name = sweeps.text(1);
    auto counts = db.prepare(
        "SELECT t.status, count(*) FROM sweep_trials st JOIN trials t ON t.hash = st.trial_hash "
        "WHERE st.sweep_id = ? GROUP BY t.status");
    counts.bind(1, id);
    while (counts.step()) {
      const std::string s = counts.text(0);
      const int n = static_cast<int>(counts.integer(1));
      if (s == "done")
        p.done = n;
      else if (s == "running")
        p.running = n;
      else if (s == "failed")
        p.failed = n;
      else if (s == "stopped")
        p.stopped = n;
      else
        p.pending = n;
    }
    if (p.running > 0) p.running_trials = running_trials(db, id);
    auto run = db.prepare(
        "SELECT status, started_at, heartbeat_at, host FROM runs WHERE sweep_id = ? ORDER BY id "
        "DESC LIMIT 1");
    run.bind(1, id);
    if (run.step()) {
      p.last_run_status = run.text(0);
      p.last_run_started = run.text(1);
      p.last_run_heartbeat = run.text(2);
      p.last_run_host = run.text(3);
    }
    auto jobs =
        db.prepare("SELECT job_id FROM slurm_jobs WHERE sweep_id = ? ORDER BY submitted_at");
    jobs.bind(1, id);
    while (jobs.step()) p.slurm_jobs.push_back(jobs.text(0));
    out.push_back(std::move(p));
  }
  if (!only.empty() && out.empty())
    throw InputError("no sweep named '" + only + "' in '" + db.path() + "'");
  return out;
}

}  // namespace locsweep
