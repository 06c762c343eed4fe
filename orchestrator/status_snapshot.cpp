#include "orchestrator/status_snapshot.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <filesystem>

#include "common/error.hpp"
#include "common/files.hpp"
#include "results/lease.hpp"

namespace locsweep {
namespace fs = std::filesystem;
using nlohmann::json;

namespace {

constexpr const char* kFormat = "locsweep-status-snapshot";

double unix_now() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

json running_json(const RunningTrial& r) {
  return {{"hash", r.hash},
          {"label", r.label},
          {"rank", r.rank},
          {"host", r.host},
          {"device", r.device},
          {"attempt", r.attempt},
          {"step", r.step},
          {"checkpoint_step", r.checkpoint_step},
          {"started_at", r.started_at}};
}

RunningTrial running_from_json(const json& j) {
  RunningTrial r;
  r.hash = j.at("hash").get<std::string>();
  r.label = j.at("label").get<std::string>();
  r.rank = j.at("rank").get<int>();
  r.host = j.at("host").get<std::string>();
  r.device = j.value("device", "");
  r.attempt = j.at("attempt").get<int>();
  r.step = j.at("step").get<int64_t>();
  r.checkpoint_step = j.value("checkpoint_step", int64_t{0});
  r.started_at = j.value("started_at", "");
  return r;
}

}  // namespace

std::string status_snapshot_path(const std::string& db_path) {
  return db_path + ".status.json";
}

json to_json(const StatusSnapshot& s) {
  json running = json::array();
  for (const auto& r : s.running) running.push_back(running_json(r));
  return {{"format", kFormat},
          {"version", StatusSnapshot::kFormatVersion},
          {"sweep", s.sweep},
          {"db", s.db},
          {"run_id", s.run_id},
          {"run_status", s.run_status},
          {"coordinator", {{"host", s.host}, {"pid", s.pid}}},
          {"slurm_job_id", s.slurm_job_id.empty() ? json(nullptr) : json(s.slurm_job_id)},
          {"slurm_jobs", s.slurm_jobs},
          {"updated_at", s.updated_at},
          {"updated_unix", s.updated_unix},
          {"interval_s", s.interval_s},
          {"stale_after_s", s.stale_after_s},
          {"counts",
           {{"done", s.counts.done},
            {"running", s.counts.running},
            {"failed", s.counts.failed},
            {"pending", s.counts.pending},
            {"stopped", s.counts.stopped},
            {"total", s.counts.total()}}},
          {"running", running}};
}

StatusSnapshot status_snapshot_from_json(const json& j, const std::string& where) {
  if (!j.is_object() || j.value("format", "") != kFormat)
    throw InputError("'" + where + "' is not a locsweep status snapshot (no \"format\": \"" +
                     kFormat + "\"); remove it, the next run writes a new one");
  if (j.value("version", 0) != StatusSnapshot::kFormatVersion)
    throw InputError("'" + where + "' is a status snapshot of format version " +
                     j.value("version", json()).dump() + "; this locsweep reads version " +
                     std::to_string(StatusSnapshot::kFormatVersion));
  try {
    StatusSnapshot s;
    s.sweep = j.at("sweep").get<std::string>();
    s.db = j.value("db", "");
    s.run_id = j.at("run_id").get<int64_t>();
    s.run_status = j.at("run_status").get<std::string>();
    s.host = j.at("coordinator").at("host").get<std::string>();
    s.pid = j.at("coordinator").at("pid").get<int64_t>();
    if (j.contains("slurm_job_id") && j["slurm_job_id"].is_string())
      s.slurm_job_id = j["slurm_job_id"].get<std::string>();
    s.slurm_jobs = j.value("slurm_jobs", std::vector<std::string>{});
    s.updated_at = j.at("updated_at").get<std::string>();
    s.updated_unix = j.at("updated_unix").get<double>();
    s.interval_s = j.value("interval_s", 5.0);
    s.stale_after_s = j.value("stale_after_s", 30.0);
    const json& c = j.at("counts");
    s.counts = {c.at("done").get<int>(), c.at("running").get<int>(), c.at("failed").get<int>(),
                c.at("pending").get<int>(), c.value("stopped", 0)};
    for (const auto& r : j.at("running")) s.running.push_back(running_from_json(r));
    return s;
  } catch (const json::exception& e) {
    throw InputError("'" + where + "' is not a complete status snapshot: " + e.what() +
                     "; remove it, the next run writes a new one");
  }
}

std::optional<StatusSnapshot> read_status_snapshot(const std::string& db_path) {
  const std::string path = status_snapshot_path(db_path);
  if (!fs::exists(path)) return std::nullopt;
  json j;
  try {
    j = json::parse(read_file(path));
  } catch (const json::parse_error& e) {
    throw InputError("'" + path + "' is not JSON (" + e.what() +
                     "); remove it, the next run writes a new one");
  }
  return status_snapshot_from_json(j, path);
}

double snapshot_age_s(const StatusSnapshot& s) {
  return std::max(0.0, unix_now() - s.updated_unix);
}

bool snapshot_is_stale(const StatusSnapshot& s, double age_s) {
  return s.run_status == "running" && age_s > s.stale_after_s;
}

ProgressSource progress_source_from_string(const std::string& text) {
  if (text == "auto") return ProgressSource::automatic;
  if (text == "database" || text == "db") return ProgressSource::database;
  if (text == "snapshot") return ProgressSource::snapshot;
  throw InputError("unknown --source '" + text + "' (valid: auto, database, snapshot)");
}

ProgressSource choose_progress_source(ProgressSource wanted, bool database_exists,
                                      const std::optional<StatusSnapshot>& snapshot,
                                      const std::string& this_host) {
  if (wanted == ProgressSource::snapshot && !snapshot)
    throw InputError(
        "--source snapshot: there is no status snapshot beside the database (a run writes "
        "<db>.status.json while it runs)");
  if (wanted == ProgressSource::database && !database_exists)
    throw InputError("--source database: there is no database file here");
  if (wanted != ProgressSource::automatic) return wanted;
  if (!database_exists && snapshot) return ProgressSource::snapshot;
  if (snapshot && snapshot->run_status == "running" && snapshot->host != this_host)
    return ProgressSource::snapshot;
  return ProgressSource::database;
}

SweepProgress progress_from_snapshot(const StatusSnapshot& s, const std::string& only) {
  if (!only.empty() && only != s.sweep)
    throw InputError("the status snapshot is of sweep '" + s.sweep + "', not '" + only +
                     "' (read the database for other sweeps: --source database, on " + s.host +
                     " while the run lives)");
  SweepProgress p;
  p.name = s.sweep;
  p.done = s.counts.done;
  p.running = s.counts.running;
  p.failed = s.counts.failed;
  p.pending = s.counts.pending;
  p.stopped = s.counts.stopped;
  p.running_trials = s.running;
  p.last_run_status = s.run_status;
  p.last_run_host = s.host;
  p.last_run_heartbeat = s.updated_at;
  p.slurm_jobs = s.slurm_jobs;
  return p;
}

ProgressView read_progress(const std::string& db_path, const std::string& only,
                           ProgressSource wanted) {
  std::optional<StatusSnapshot> snapshot;
  try {
    snapshot = read_status_snapshot(db_path);
  } catch (const InputError& e) {
    if (wanted == ProgressSource::snapshot) throw;
    fmt::print(stderr, "locsweep: ignoring the status snapshot: {}\n", e.what());
  }
  ProgressView view;
  const ProgressSource source =
      choose_progress_source(wanted, fs::exists(db_path), snapshot, host_name());
  if (source == ProgressSource::snapshot) {
    view.sweeps.push_back(progress_from_snapshot(*snapshot, only));
    view.snapshot = std::move(snapshot);
    return view;
  }
  Database db = open_results_read_only(db_path);
  view.sweeps = sweep_progress(db, only);
  return view;
}

StatusSnapshotWriter::StatusSnapshotWriter(ResultsStore& store, const std::string& db_path,
                                           int64_t sweep_id, std::string sweep, int64_t run_id,
                                           const RunInfo& info, double interval_s)
    : store_(store), path_(status_snapshot_path(db_path)), sweep_id_(sweep_id) {
  snapshot_.sweep = std::move(sweep);
  snapshot_.db = fs::absolute(db_path).string();
  snapshot_.run_id = run_id;
  snapshot_.host = info.host;
  snapshot_.pid = info.pid;
  snapshot_.slurm_job_id = info.slurm_job_id;
  snapshot_.interval_s = interval_s;
  snapshot_.stale_after_s = std::max(30.0, 6 * interval_s);
  auto jobs =
      store_.db().prepare("SELECT job_id FROM slurm_jobs WHERE sweep_id = ? ORDER BY submitted_at");
  jobs.bind(1, sweep_id);
  while (jobs.step()) snapshot_.slurm_jobs.push_back(jobs.text(0));
}

void StatusSnapshotWriter::update(const SweepCounts& counts) {
  const auto now = std::chrono::steady_clock::now();
  if (last_ && std::chrono::duration<double>(now - *last_).count() < snapshot_.interval_s) return;
  last_ = now;
  write(counts);
}

void StatusSnapshotWriter::finish(const SweepCounts& counts) {
  write(counts);
}

void StatusSnapshotWriter::write(const SweepCounts& counts) {
  try {
    auto run = store_.db().prepare("SELECT status FROM runs WHERE id = ?");
    run.bind(1, snapshot_.run_id);
    if (!run.step()) return;
    snapshot_.run_status = run.text(0);
    if (snapshot_.run_status == "crashed") return;  // taken over: the new holder's file now
    snapshot_.counts = counts;
    snapshot_.running = running_trials(store_.db(), sweep_id_);
    snapshot_.updated_at = utc_now();
    snapshot_.updated_unix = unix_now();
    write_file_atomic(path_, to_json(snapshot_).dump(1) + "\n");
  } catch (const std::exception& e) {
    if (warned_) return;
    warned_ = true;
    fmt::print(stderr, "locsweep: cannot write the status snapshot '{}': {} (the sweep goes on)\n",
               path_, e.what());
  }
}

}  // namespace locsweep
