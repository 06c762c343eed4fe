// The results store as the coordinator writes it: sweeps and their trials, runs (with a
// lease so two coordinators never share a database), attempts, per-step and per-head
// metrics, artifacts, Slurm jobs. Writes are grouped by the caller into transactions
// (begin_batch/commit_batch), so thousands of events per second cost a few fsyncs.
//
// The run lease (docs/results-schema.md, "The run lease"): a run records its own lease
// length and refreshes it with a heartbeat counter. A later run refuses to start while the
// holder lives (its process is running on this machine, or its counter advances within the
// holder's lease) and takes over only a dead one. Fencing: once begin_run() made this store
// the holder, every batch checks, inside its own write transaction, that the run row is
// still this run's and running; a run that was taken over (it was stopped past its lease)
// gets LeaseLost there, before anything of its batch reaches the file.
#pragma once

#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "results/sqlite.hpp"
#include "sweeps/plan.hpp"
#include "trial/trial_result.hpp"

namespace locsweep {

// stopped: ASHA stopped it early at a rung (early_stopping:, docs/early-stopping.md); settled
// like done and failed, but neither: not a failure, not in the results' means.
enum class TrialStatus { pending, running, done, failed, stopped };
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
  // Staged sweeps: the trial it starts from (trials.base_hash; empty: none), that trial's
  // label, its folder (whose final checkpoint holds the weights) and its status when read.
  std::string base;
  std::string base_label;
  std::string base_out_dir;
  std::optional<TrialStatus> base_status;
};

struct RunInfo {
  std::string host;
  int64_t pid = 0;
  int ranks = 1;
  std::string slurm_job_id;  // empty outside Slurm
  std::string command;
  std::string process;  // process_identity(pid) (results/lease.hpp): tells a recycled pid
};

// A write of a run that no longer holds the database's lease (another run took over after
// this one went without a heartbeat for its lease): nothing of it was written.
class LeaseLost : public Error {
 public:
  using Error::Error;
};

// What check_no_live_run() found: the runs recorded as running that are dead, each with the
// heartbeat ("count time") it was seen with; begin_run() takes over exactly these.
struct LeaseCheck {
  std::map<int64_t, std::string> dead;
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

  // Registers trials planned while the sweep runs (a search's next points,
  // orchestrator/search_feed.hpp) as sync_sweep does new ones: each recorded unless known and
  // linked to the sweep after its last trial unless linked already. Returns the records of the
  // trials it linked that may still run (pending), in the order given. Inside the caller's
  // batch, if one is open (its writes then commit with it).
  std::vector<TrialRecord> add_trials(int64_t sweep_id, const std::vector<PlannedTrial>& trials,
                                      const std::string& artifacts_root);

  // Makes the sweep's failed trials pending again with a fresh retry budget (their attempts
  // stay recorded); returns how many.
  size_t retry_failed(int64_t sweep_id);

  // Read-only, holding no lock: refuses (InputError) while another run holds the database.
  // A run whose process this machine sees running is alive; one whose process is gone (or
  // whose pid was recycled) is dead; any other (another host, a stopped process) is watched
  // for up to its own lease: alive if its heartbeat counter advances, dead if not. So this
  // may wait up to the longest such lease, saying so on stderr.
  LeaseCheck check_no_live_run(const RunInfo& info);
  // Starts a run of a sweep holding a lease of lease_s: takes over the dead runs `checked`
  // found (their open attempts closed as interrupted, their running trials pending again),
  // in one transaction that refuses (InputError, nothing written) if any other run started
  // or refreshed its lease meanwhile. From here on this store's batches are fenced.
  int64_t begin_run(int64_t sweep_id, const RunInfo& info, double lease_s,
                    const LeaseCheck& checked);
  int64_t begin_run(int64_t sweep_id, const RunInfo& info, double lease_s) {
    return begin_run(sweep_id, info, lease_s, check_no_live_run(info));
  }
  // Refreshes the lease (heartbeat_count + 1, heartbeat_at); a write like any other.
  void heartbeat(int64_t run_id);
  // Ends the run with `status` (complete, interrupted, failed), in one transaction: any of
  // its attempts still open is closed as interrupted (`why` says how the run ended) and its
  // running trials become pending. LeaseLost if the run no longer holds the lease.
  void end_run(int64_t run_id, std::string_view status, const std::string& why = "");

  std::vector<TrialRecord> sweep_trials(int64_t sweep_id);
  // What a coordinator needs: the trials of a sweep that may still run (pending or running),
  // in plan order, and how many others are done or failed. Found through the status index,
  // so restarting a sweep with 100,000 finished trials does not read them.
  struct OpenTrials {
    std::vector<TrialRecord> trials;
    int done = 0, failed = 0, stopped = 0;
  };
  OpenTrials open_trials(int64_t sweep_id);

  // Batching: writes between begin_batch() and commit_batch() are one transaction. Both
  // check the lease of the run this store holds (LeaseLost, the batch rolled back).
  void begin_batch();
  void commit_batch();
  void abandon_batch();  // rolls back an open batch (after an error); never throws
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
  // stop signal, its run killed): how many in a row, since its last done or failed attempt,
  // made no progress. An interrupted attempt made progress when it left a newer checkpoint
  // than the one it resumed from (the next attempt resumed from later, or the trial's last
  // checkpoint is later); such an attempt ends the streak, so a long trial that is preempted
  // often but always moves on is never failed by the budget. An attempt whose start step is
  // unknown (its run was killed before recording it) counts as no progress.
  std::unordered_map<std::string, int> preemption_streaks();
  // Fails a trial whose preemption streak ran out (execution.max_preemptions): its last
  // attempt becomes `failed` with `message`, which the trial gets too (outcome preempted).
  void fail_preempted_trial(const std::string& hash, const std::string& message);
  // Fails a trial that never started because the trial it starts from (its base) failed for
  // good: status failed, outcome error, `message` naming the base. --retry-failed makes it
  // pending again like any failed trial.
  void fail_unstarted_trial(const std::string& hash, const std::string& message);
  // Records a trial that ASHA stopped early (early_stopping:): status stopped (settled, not
  // failed), outcome rung, steps_done = the rung's step, `message` saying why (its rung, step
  // and validation loss there, which step_metrics also holds). Its last attempt stays
  // interrupted at the rung.
  void stop_trial(const std::string& hash, int step, const std::string& message);
  // What ASHA's state is rebuilt from on a restart (orchestrator/coordinator.cpp): each trial
  // of the sweep in plan order, with its validation losses at the rung `steps` it recorded.
  struct RungHistory {
    std::string hash;
    TrialStatus status = TrialStatus::pending;
    int last_step = 0;               // latest checkpoint
    int steps_done = 0;              // of its last attempt
    std::optional<double> val_loss;  // a done trial's final validation loss
    bool is_base = false;            // another trial of the sweep starts from it
    std::map<int, double> val_at;    // step -> periodic validation loss, at rung steps only
  };
  std::vector<RungHistory> rung_history(int64_t sweep_id, const std::vector<int>& steps);
  void record_slurm_job(int64_t sweep_id, const std::string& job_id, const std::string& script_path,
                        const nlohmann::json& options);
  // The id of a sweep by name, if recorded.
  std::optional<int64_t> sweep_id(const std::string& name);

  Database& db() { return db_; }

 private:
  explicit ResultsStore(Database db) : db_(std::move(db)) {}
  // Hot-path statements are prepared once and reused (reset after each run()).
  Statement& cached(const std::string& sql);
  struct RecordedRun {
    int64_t id = 0;
    std::string host, job, process, heartbeat;  // heartbeat: "count time", the lease token
    int64_t pid = 0;
    double lease_s = 30;
  };
  std::vector<RecordedRun> running_runs();
  // The steps of check_no_live_run: the running runs to watch (refusing a live one, marking
  // a gone one dead in `out`); the note on stderr about them; one look at them after a pause
  // (refusing a newcomer or one whose heartbeat advanced; marking the gone or expired dead)
  // that returns those still watched.
  std::vector<RecordedRun> runs_to_watch(LeaseCheck& out);
  void note_watched(const std::vector<RecordedRun>& watched, double waited_s);
  std::vector<RecordedRun> watch_once(std::vector<RecordedRun> watched, LeaseCheck& out,
                                      double elapsed_s);
  [[noreturn]] void refuse(const RecordedRun& run, const std::string& why);
  // The steps of begin_run: the dead runs `checked` found closed (their open attempts
  // interrupted, the run crashed); this run's row (returns its id).
  void close_dead_runs(const LeaseCheck& checked, const std::string& now);
  int64_t insert_run_row(int64_t sweep_id, const RunInfo& info, double lease_s,
                         const std::string& now);
  // The steps of finish_attempt: the attempt's row; the trial's row (status, outcome, the
  // validation figures of a done trial); a done trial's head metrics and artifacts.
  void record_attempt_end(int64_t attempt_id, const TrialResult& r, TrialStatus trial_status,
                          const std::string& now);
  void record_trial_end(const std::string& hash, const TrialResult& r, TrialStatus trial_status,
                        int retries_used, const std::string& now);
  void record_trial_outputs(const std::string& hash, const TrialResult& r, const std::string& now);
  // Inside a write transaction: LeaseLost unless run_id's row is still running.
  void confirm_lease(int64_t run_id);
  Database db_;
  std::unordered_map<std::string, Statement> statements_;
  bool batch_open_ = false;
  std::optional<int64_t> held_run_;  // the run whose lease this store holds (after begin_run)
};

}  // namespace locsweep
