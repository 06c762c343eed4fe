// The results store as the coordinator writes it: sweeps and their trials, runs (with a
// lease so two coordinators never share a database), attempts, per-step and per-head
// metrics, artifacts, Slurm jobs. Writes are grouped by the caller into transactions
// (begin_batch/commit_batch), so thousands of events per second cost a few fsyncs.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "results/sqlite.hpp"
#include "sweeps/plan.hpp"
#include "worker/trial_result.hpp"

namespace locsweep {

enum class TrialStatus { pending, running, done, failed };
std::string_view to_string(TrialStatus status);
TrialStatus trial_status_from_string(std::string_view text);

// A trial of a sweep as the coordinator schedules it.
struct TrialRecord {
  std::string hash;
  std::string label;
  TrialStatus status = TrialStatus::pending;
  int attempts = 0;      // attempts started so far
  int retries_used = 0;  // failed attempts counted against execution.max_retries
  int last_step = 0;     // step of the latest checkpoint
  int position = 0;      // order in the plan
  double cost = 0;       // estimated_cost(), for longest-first
  std::string out_dir;
  nlohmann::json config;  // to_json(TrialConfig)
};

struct RunInfo {
  std::string host;
  int64_t pid = 0;
  int ranks = 1;
  std::string slurm_job_id;  // empty outside Slurm
  std::string command;
};

struct AttemptStart {
  int worker_rank = 0;
  std::string host;
  int64_t pid = 0;
  std::string device;
  nlohmann::json manifest;
};

class ResultsStore {
 public:
  // Opens (creating it if absent) a results database for writing. Throws InputError for a
  // file that is not a locsweep database, has another schema version, or cannot be
  // written; such a file is left exactly as it was.
  static ResultsStore open_for_writing(const std::string& path);

  // Registers a sweep and its planned trials. A known sweep name is accepted when every trial
  // recorded for it is still in the plan (the grid was extended, or only execution settings
  // changed); otherwise the name clashes with a different spec: InputError, nothing written,
  // unless allow_spec_change.
  struct SyncResult {
    int64_t sweep_id = 0;
    size_t new_trials = 0;
    size_t known_trials = 0;
  };
  SyncResult sync_sweep(const SweepSpec& spec, const Plan& plan, const std::string& artifacts_root,
                        bool allow_spec_change);

  // Starts a run of a sweep. Refuses (InputError) while another run holds the database:
  // its heartbeat is fresher than lease_s and its process is not known dead. A dead run's
  // open attempts are closed as interrupted and its running trials made pending again.
  // Makes the sweep's failed trials pending again with a fresh retry budget (their attempts
  // stay recorded); returns how many.
  size_t retry_failed(int64_t sweep_id);

  int64_t begin_run(int64_t sweep_id, const RunInfo& info, double lease_s);
  // The same refusal, read-only: lets a second coordinator stop before it writes anything.
  void check_no_live_run(const RunInfo& info, double lease_s);
  void heartbeat(int64_t run_id);
  void end_run(int64_t run_id, std::string_view status);

  std::vector<TrialRecord> sweep_trials(int64_t sweep_id);
  // What a coordinator needs: the trials of a sweep that may still run (pending or running),
  // in plan order, and how many others are done or failed. Found through the status index,
  // so restarting a sweep with 100,000 finished trials does not read them.
  struct OpenTrials {
    std::vector<TrialRecord> trials;
    int done = 0, failed = 0;
  };
  OpenTrials open_trials(int64_t sweep_id);

  // Batching: writes between begin_batch() and commit_batch() are one transaction.
  void begin_batch();
  void commit_batch();
  bool in_batch() const { return batch_open_; }

  int64_t start_attempt(const std::string& hash, int number, int64_t run_id,
                        const AttemptStart& start);
  void record_step(const std::string& hash, int64_t attempt_id, const std::string& split,
                   int64_t step, double loss, std::optional<double> lr,
                   std::optional<double> tokens_per_s, std::optional<double> penalty);
  void record_checkpoint(const std::string& hash, int64_t step);
  // Closes an attempt with its result and sets the trial's status (pending again when the
  // attempt will be retried or resumed).
  void finish_attempt(int64_t attempt_id, const std::string& hash, const TrialResult& result,
                      TrialStatus trial_status, int retries_used);
  // For each trial still to run whose latest attempts were interrupted by preemption (a
  // stop signal, its run killed): how many in a row, since its last done or failed attempt.
  std::unordered_map<std::string, int> preemption_streaks();
  // Fails a trial whose preemption streak ran out (execution.max_preemptions): its last
  // attempt becomes `failed` with `message`, which the trial gets too (outcome preempted).
  void fail_preempted_trial(const std::string& hash, const std::string& message);
  void record_slurm_job(int64_t sweep_id, const std::string& job_id, const std::string& script_path,
                        const nlohmann::json& options);
  // The id of a sweep by name, if recorded.
  std::optional<int64_t> sweep_id(const std::string& name);

  Database& db() { return db_; }

 private:
  explicit ResultsStore(Database db) : db_(std::move(db)) {}
  // Hot-path statements are prepared once and reused (reset after each run()).
  Statement& cached(const std::string& sql);
  // Runs recorded as running whose process is known dead or whose lease expired; throws
  // InputError if one is alive.
  std::vector<int64_t> dead_runs(const RunInfo& info, double lease_s);
  Database db_;
  std::unordered_map<std::string, Statement> statements_;
  bool batch_open_ = false;
};

}  // namespace locsweep
