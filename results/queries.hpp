// Reading the results database without writing it: the state of trials for `plan --db`,
// sweep progress for `status`. Opens read-only; a missing file reads as an empty database.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "results/sqlite.hpp"

namespace locsweep {

// Opens an existing locsweep database read-only (InputError if absent or not locsweep).
Database open_results_read_only(const std::string& path);

struct TrialState {
  std::string status;  // pending | running | done | failed
  int attempts = 0;
  std::optional<double> val_ppl;
  std::string outcome;
};
// The recorded state of each of `hashes` that the database knows.
std::map<std::string, TrialState> trial_states(Database& db,
                                               const std::vector<std::string>& hashes);

// A trial the database records as running, with its current attempt: where it runs and how
// far it got (step: its latest training step recorded; checkpoint_step: its latest checkpoint).
struct RunningTrial {
  std::string hash, label, host, device, started_at;
  int rank = 0, attempt = 0;
  int64_t step = 0, checkpoint_step = 0;
};
// The running trials of sweep `sweep_id`, by worker rank. Found through the status index, so
// it is cheap on a sweep of 100,000 trials (the coordinator's status snapshot calls it).
std::vector<RunningTrial> running_trials(Database& db, int64_t sweep_id);

// A sweep's trials by status: `locsweep status` and `results` count the same way (a running
// trial is running, not pending).
struct SweepProgress {
  std::string name;
  int done = 0, running = 0, failed = 0, pending = 0;
  int stopped = 0;  // stopped early by ASHA: settled, not failed
  std::vector<RunningTrial> running_trials;
  std::optional<std::string> last_run_status, last_run_started, last_run_heartbeat, last_run_host;
  std::vector<std::string> slurm_jobs;
};
// Progress of every sweep in the database (or of one, by name; InputError if unknown).
std::vector<SweepProgress> sweep_progress(Database& db, const std::string& only = "");

}  // namespace locsweep
