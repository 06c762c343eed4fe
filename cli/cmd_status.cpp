// `locsweep status --db FILE [--sweep NAME] [--json]`: progress of the sweeps in a results
// database, and the state of each sweep's Slurm jobs (recorded by `locsweep submit`) as
// squeue/scontrol/sacct report it (slurm/job_state.hpp), where those tools are on PATH.
#include <fmt/format.h>

#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "cli/commands.hpp"
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

nlohmann::json sweep_json(const SweepProgress& p, const JobStates& jobs) {
  nlohmann::json slurm = nlohmann::json::array();
  for (const auto& id : p.slurm_jobs) slurm.push_back(job_json(jobs.at(id)));
  return {{"sweep", p.name},      {"done", p.done},
          {"running", p.running}, {"failed", p.failed},
          {"pending", p.pending}, {"last_run_status", p.last_run_status.value_or("")},
          {"slurm_jobs", slurm}};
}

void print_sweep(const SweepProgress& p, const JobStates& jobs) {
  const int total = p.done + p.running + p.failed + p.pending;
  fmt::print("{}: {}/{} done, {} running, {} failed, {} pending", p.name, p.done, total, p.running,
             p.failed, p.pending);
  if (p.last_run_status)
    fmt::print("; last run {} on {} (started {}, heartbeat {})", *p.last_run_status,
               p.last_run_host.value_or("?"), p.last_run_started.value_or("?"),
               p.last_run_heartbeat.value_or("?"));
  fmt::print("\n");
  for (const auto& id : p.slurm_jobs)
    fmt::print("  Slurm job {}: {}\n", id, jobs.at(id).describe());
}

}  // namespace

void add_status_command(CLI::App& app) {
  struct Options {
    std::string db, sweep;
    bool json = false;
  };
  auto o = std::make_shared<Options>();
  auto* cmd = app.add_subcommand(
      "status", "Show the progress of the sweeps in a results database, with their Slurm jobs");
  add_db_option(cmd, o->db, "Results database");
  cmd->add_option("--sweep", o->sweep, "Only this sweep");
  cmd->add_flag("--json", o->json, "Print JSON");
  cmd->callback([o] {
    Database db = open_results_read_only(o->db);
    const auto sweeps = sweep_progress(db, o->sweep);
    const JobStates jobs = job_states(sweeps);
    if (!o->json) {
      for (const auto& p : sweeps) print_sweep(p, jobs);
      return;
    }
    nlohmann::json out = nlohmann::json::array();
    for (const auto& p : sweeps) out.push_back(sweep_json(p, jobs));
    fmt::print("{}\n", out.dump(2));
  });
}

}  // namespace locsweep::cli
