#include "results/queries.hpp"

#include <filesystem>

#include "results/schema.hpp"

namespace locsweep {

Database open_results_read_only(const std::string& path) {
  if (!std::filesystem::exists(path))
    throw InputError("no results database at '" + path + "' (run a sweep with --db " + path + " first)");
  Database db(path, Database::Mode::read_only);
  ensure_schema(db, false);
  return db;
}

std::map<std::string, TrialState> trial_states(Database& db, const std::vector<std::string>& hashes) {
  std::map<std::string, TrialState> out;
  auto stmt = db.prepare("SELECT status, attempts, val_ppl, outcome FROM trials WHERE hash = ?");
  for (const auto& h : hashes) {
    stmt.bind(1, h);
    if (stmt.step()) {
      TrialState s;
      s.status = stmt.text(0);
      s.attempts = static_cast<int>(stmt.integer(1));
      if (!stmt.is_null(2)) s.val_ppl = stmt.real(2);
      s.outcome = stmt.text(3);
      out[h] = s;
    }
    stmt.reset();
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
      if (s == "done") p.done = n;
      else if (s == "running") p.running = n;
      else if (s == "failed") p.failed = n;
      else p.pending = n;
    }
    auto run = db.prepare(
        "SELECT status, started_at, heartbeat_at, host FROM runs WHERE sweep_id = ? ORDER BY id DESC LIMIT 1");
    run.bind(1, id);
    if (run.step()) {
      p.last_run_status = run.text(0);
      p.last_run_started = run.text(1);
      p.last_run_heartbeat = run.text(2);
      p.last_run_host = run.text(3);
    }
    auto jobs = db.prepare("SELECT job_id FROM slurm_jobs WHERE sweep_id = ? ORDER BY submitted_at");
    jobs.bind(1, id);
    while (jobs.step()) p.slurm_jobs.push_back(jobs.text(0));
    out.push_back(std::move(p));
  }
  if (!only.empty() && out.empty()) throw InputError("no sweep named '" + only + "' in '" + db.path() + "'");
  return out;
}

}  // namespace locsweep
