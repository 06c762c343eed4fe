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

struct SweepProgress {
  std::string name;
  int done = 0, running = 0, failed = 0, pending = 0;
  std::optional<std::string> last_run_status, last_run_started, last_run_heartbeat, last_run_host;
  std::vector<std::string> slurm_jobs;
};
// Progress of every sweep in the database (or of one, by name; InputError if unknown).
std::vector<SweepProgress> sweep_progress(Database& db, const std::string& only = "");

}  // namespace locsweep
