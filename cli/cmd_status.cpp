// `locsweep status --db FILE [--sweep NAME] [--json] [--source auto|database|snapshot]`:
// progress of the sweeps in a results database (with each running trial's rank, host,
// attempt and step), and the state of each sweep's Slurm jobs (recorded by `locsweep
// submit`) as squeue/scontrol/sacct report it (slurm/job_state.hpp), where those tools are on
// PATH. While the run lives on another host (a compute node) the database's WAL cannot be
// read here, so it reads the coordinator's status snapshot beside the database instead
// (orchestrator/status_snapshot.hpp), saying how old it is, and that it is stale if it is.
#include <fmt/format.h>

#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "cli/commands.hpp"
#include "orchestrator/status_snapshot.hpp"
#include "results/queries.hpp"
#include "slurm/job_state.hpp"

namespace locsweep::cli {

namespace {

nlohmann::json job_json(const SlurmJobState& s) {
  nlohmann::json j = {
      {"job_id", s.job_id},   {"state", s.state},           {"source", s.source},
      {"active", s.active()}, {"elapsed", s.elapsed},       {"time_limit", s.time_limit},
      {"reason", s.reason},   {"exit_code", s.exit_code},   {"restarts", nullptr},
      {"note", s.note},       {"description", s.describe()}};
  if (s.restarts) j["restarts"] = *s.restarts;
  return j;
}

using JobStates = std::map<std::string, SlurmJobState>;

// The state of every recorded job of `sweeps`, from one query of the Slurm tools (none when
// there is no job).
JobStates job_states(const std::vector<SweepProgress>& sweeps) {
  std::vector<std::string> ids;
  for (const auto& p : sweeps) ids.insert(ids.end(), p.slurm_jobs.begin(), p.slurm_jobs.end());
  JobStates jobs;
  for (auto& s : query_job_states(ids)) jobs[s.job_id] = std::move(s);
  return jobs;
}

nlohmann::json running_json(const RunningTrial& r) {
  return {{"hash", r.hash},
          {"label", r.label},
          {"rank", r.rank},
          {"host", r.host},
          {"attempt", r.attempt},
          {"step", r.step},
          {"checkpoint_step", r.checkpoint_step}};
}

nlohmann::json sweep_json(const SweepProgress& p, const JobStates& jobs) {
  nlohmann::json slurm = nlohmann::json::array();
  for (const auto& id : p.slurm_jobs) slurm.push_back(job_json(jobs.at(id)));
  nlohmann::json running = nlohmann::json::array();
  for (const auto& r : p.running_trials) running.push_back(running_json(r));
  return {{"sweep", p.name},
          {"done", p.done},
          {"running", p.running},
          {"failed", p.failed},
          {"pending", p.pending},
          {"stopped", p.stopped},
          {"last_run_status", p.last_run_status.value_or("")},
          {"slurm_jobs", slurm},
          {"running_trials", running}};
}

void print_sweep(const SweepProgress& p, const JobStates& jobs) {
  const int total = p.done + p.running + p.failed + p.pending + p.stopped;
  fmt::print("{}: {}/{} done, {} running, {} failed, {} pending", p.name, p.done, total, p.running,
             p.failed, p.pending);
  if (p.stopped > 0) fmt::print(", {} stopped early", p.stopped);
  if (p.last_run_status)
    fmt::print("; last run {} on {} (started {}, heartbeat {})", *p.last_run_status,
               p.last_run_host.value_or("?"), p.last_run_started.value_or("?"),
               p.last_run_heartbeat.value_or("?"));
  fmt::print("\n");
  for (const auto& r : p.running_trials)
    fmt::print("  running: {} (rank {} on {}, attempt {}, step {})\n", r.label, r.rank,
               r.host.empty() ? "?" : r.host, r.attempt, r.step);
  for (const auto& id : p.slurm_jobs)
    fmt::print("  Slurm job {}: {}\n", id, jobs.at(id).describe());
}

// Where the numbers came from, for a snapshot: its age, its writer, and whether it is stale.
struct SnapshotNote {
  std::string path, text;
  double age_s = 0;
  bool stale = false;
};

SnapshotNote snapshot_note(const StatusSnapshot& s, const std::string& path) {
  SnapshotNote n;
  n.path = path;
  n.age_s = snapshot_age_s(s);
  n.stale = snapshot_is_stale(s, n.age_s);
  const std::string written = fmt::format(
      "the status snapshot {} (run {} on {}, pid {}{}), written {} ({:.0f} s ago)", path, s.run_id,
      s.host, s.pid, s.slurm_job_id.empty() ? "" : ", Slurm job " + s.slurm_job_id, s.updated_at,
      n.age_s);
  if (n.stale)
    n.text = fmt::format(
        "STALE: from {}; it is rewritten every {:g} s while the run lives, so its coordinator "
        "has stopped updating it (killed, stopped or stuck): these counts are as of then. "
        "Check its job, or read the database on {} (--source database)",
        written, s.interval_s, s.host);
  else if (s.run_status == "running")
    n.text = fmt::format(
        "from {}: the run lives on {}, where the database's WAL is (read it there for more)",
        written, s.host);
  else
    n.text = fmt::format("from {}: the run has ended ({})", written, s.run_status);
  return n;
}

}  // namespace

void add_status_command(CLI::App& app) {
  struct Options {
    std::string db, sweep, source = "auto";
    bool json = false;
  };
  auto o = std::make_shared<Options>();
  auto* cmd = app.add_subcommand(
      "status", "Show the progress of the sweeps in a results database, with their Slurm jobs");
  add_db_option(cmd, o->db, "Results database");
  cmd->add_option("--sweep", o->sweep, "Only this sweep");
  cmd->add_flag("--json", o->json, "Print JSON");
  cmd->add_option("--source", o->source,
                  "auto (the coordinator's status snapshot while the run lives on another host, "
                  "else the database), database or snapshot")
      ->capture_default_str();
  cmd->callback([o] {
    const ProgressView view =
        read_progress(o->db, o->sweep, progress_source_from_string(o->source));
    const std::vector<SweepProgress>& sweeps = view.sweeps;
    const auto& snapshot = view.snapshot;
    std::optional<SnapshotNote> note;
    if (snapshot) note = snapshot_note(*snapshot, status_snapshot_path(o->db));
    const JobStates jobs = job_states(sweeps);
    if (!o->json) {
      for (const auto& p : sweeps) print_sweep(p, jobs);
      if (note) fmt::print("  ({})\n", note->text);
      return;
    }
    nlohmann::json out = nlohmann::json::array();
    for (const auto& p : sweeps) {
      nlohmann::json j = sweep_json(p, jobs);
      j["source"] = note ? "snapshot" : "database";
      if (note)
        j["snapshot"] = {{"path", note->path},         {"updated_at", snapshot->updated_at},
                         {"age_s", note->age_s},       {"stale", note->stale},
                         {"host", snapshot->host},     {"pid", snapshot->pid},
                         {"run_id", snapshot->run_id}, {"note", note->text}};
      out.push_back(std::move(j));
    }
    fmt::print("{}\n", out.dump(2));
  });
}

}  // namespace locsweep::cli
