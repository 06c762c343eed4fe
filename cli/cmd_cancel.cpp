// `locsweep cancel --db FILE [--sweep NAME] [--now] [--wait SECONDS]`: ends a sweep's active
// Slurm job (recorded by `locsweep submit`, state from squeue) so that its running trials
// checkpoint and a later `locsweep run` or `submit` of the same spec and DB resumes them
// (slurm/cancel.hpp), then waits for the job to leave the queue, printing its progress.
// The jobs come from the database, or from the coordinator's status snapshot while the run
// lives on another host (its WAL is unreadable here): orchestrator/status_snapshot.hpp.
#include <fmt/format.h>

#include <map>
#include <memory>

#include "cli/commands.hpp"
#include "common/error.hpp"
#include "orchestrator/status_snapshot.hpp"
#include "results/queries.hpp"
#include "slurm/cancel.hpp"
#include "slurm/job_state.hpp"

namespace locsweep::cli {

namespace {

struct SweepJob {
  std::string sweep;
  SlurmJobState state;
};

}  // namespace

void add_cancel_command(CLI::App& app) {
  struct Options {
    std::string db, sweep, source = "auto";
    bool now = false;
    double wait_s = 600;
  };
  auto o = std::make_shared<Options>();
  auto* cmd = app.add_subcommand(
      "cancel",
      "Cancel a sweep's active Slurm job cleanly: the running trials checkpoint, the run is "
      "recorded 'interrupted', and the job is not requeued; a later run or submit resumes");
  add_db_option(cmd, o->db, "Results database the sweep was submitted with");
  cmd->add_option("--sweep", o->sweep,
                  "The sweep whose job to cancel (needed when jobs of several sweeps are active)");
  cmd->add_flag("--now", o->now,
                "Plain scancel: SIGTERM to everything and SIGKILL after the cluster's KillWait "
                "(trials that cannot checkpoint in time resume from their previous checkpoint)");
  cmd->add_option("--wait", o->wait_s,
                  "Seconds to wait for the job to leave the queue (0: do not wait)")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber);
  cmd->add_option("--source", o->source,
                  "Where the sweep's jobs are read: auto (the coordinator's status snapshot "
                  "while the run lives on another host, else the database), database, snapshot")
      ->capture_default_str();
  cmd->callback([o] {
    // InputError: no DB (nor snapshot), no such sweep
    const ProgressView view =
        read_progress(o->db, o->sweep, progress_source_from_string(o->source));
    const auto& sweeps = view.sweeps;
    if (view.snapshot)
      fmt::print(
          stderr, "locsweep: the sweep's jobs are from the status snapshot {} ({:.0f} s old{})\n",
          status_snapshot_path(o->db), snapshot_age_s(*view.snapshot),
          snapshot_is_stale(*view.snapshot, snapshot_age_s(*view.snapshot)) ? ", stale" : "");
    std::vector<std::string> ids;
    std::map<std::string, std::string> sweep_of;
    for (const auto& p : sweeps)
      for (const auto& id : p.slurm_jobs) {
        ids.push_back(id);
        sweep_of[id] = p.name;
      }
    const std::string which = o->sweep.empty() ? "any sweep" : "sweep '" + o->sweep + "'";
    if (ids.empty())
      throw Error("no Slurm job is recorded for " + which + " in '" + o->db +
                  "' (jobs are recorded by `locsweep submit`); nothing to cancel");

    std::vector<SweepJob> active;
    std::string others;
    for (auto& s : query_job_states(ids)) {
      if (!s.queue_answered)
        throw Error("cannot tell which of the jobs is active: " + s.note +
                    " (run `locsweep cancel` where squeue works)");
      if (s.active())
        active.push_back({sweep_of[s.job_id], s});
      else
        others += (others.empty() ? "" : "; ") + ("job " + s.job_id + ": " + s.describe());
    }
    if (active.empty())
      throw Error("no active Slurm job for " + which + " (" + others + "); nothing to cancel");
    for (const auto& job : active)
      if (job.sweep != active.front().sweep)
        throw InputError("jobs of several sweeps are active ('" + active.front().sweep + "': job " +
                         active.front().state.job_id + ", '" + job.sweep + "': job " +
                         job.state.job_id + "); choose one with --sweep NAME");

    const CancelMode mode = o->now ? CancelMode::now : CancelMode::graceful;
    for (const auto& job : active) {
      const std::string command = cancel_job(job.state, mode);
      fmt::print(stderr, "locsweep: job {} of sweep '{}' ({}): {}\n", job.state.job_id, job.sweep,
                 job.state.describe(), command);
    }
    if (o->wait_s <= 0) {
      for (const auto& job : active) fmt::print("{}\n", job.state.job_id);
      return;
    }

    std::vector<std::string> stuck;
    for (const auto& job : active) {
      double last_print = -1e9;
      const SlurmJobState end =
          wait_for_job_end(job.state.job_id, o->wait_s, [&](const SlurmJobState& s, double waited) {
            if (waited - last_print < 5) return;
            last_print = waited;
            fmt::print(stderr, "locsweep: job {}: {} (waited {:.0f} s of at most {:.0f})\n",
                       s.job_id, s.describe(), waited, o->wait_s);
          });
      if (end.queue_answered && !end.active()) {
        fmt::print(stderr, "locsweep: job {} has left the queue: {}\n", end.job_id, end.describe());
        fmt::print("{}\n", end.job_id);
      } else {
        stuck.push_back("job " + end.job_id + ": " + end.describe());
      }
    }
    if (!stuck.empty()) {
      std::string list;
      for (const auto& s : stuck) list += (list.empty() ? "" : "; ") + s;
      throw Error("still in the queue after " + fmt::format("{:.0f}", o->wait_s) + " s: " + list +
                  ". Wait longer (--wait), or end it with `locsweep cancel --now`");
    }
    fmt::print(stderr,
               "locsweep: the sweep's results so far are in '{}'; `locsweep status --db` shows "
               "them, and `locsweep submit` or `locsweep run` of the same spec and DB resumes it\n",
               o->db);
  });
}

}  // namespace locsweep::cli
