// The coordinator (rank 0): hands trials to workers as they ask (longest-first or FIFO),
// records everything in the results store in batched transactions, retries what is worth
// retrying from its last checkpoint, notices lost workers, and on a stop signal gets every
// running trial checkpointed and recorded as interrupted before it exits. A trial interrupted
// more than execution.max_preemptions times in a row fails; a trial that finds its disk full
// pauses the sweep (nothing new starts, running trials finish, the run ends paused).
// What each outcome leads to is trial/outcome.hpp's table (action_for); the trial's budgets
// come from its config's execution block (ExecutionConfig defaults) unless the options
// override them. A message from a rank that is not what orchestrator/protocol.hpp says ends
// run() with a protocol::ProtocolError (a bug, not a trial failure).
//
// Staged sweeps: a trial with a base (TrialRecord::base) waits, out of the queue, until its
// base is done, then joins the queue's back (so bases run first, several in parallel on as
// many ranks); its attempts start from the base's final checkpoint (the assigned config's
// model.init becomes checkpoint:<base folder>/checkpoint.h5; its identity, inputs.init
// "trial:<base hash>", stays). A base that fails for good fails its dependents (and theirs),
// each with a message naming it; --retry-failed makes them all pending again.
//
// Early stopping (CoordinatorOptions::early_stopping, docs/early-stopping.md): ASHA
// (search/asha.hpp) over the trials that are not bases. Each attempt of such a trial is
// assigned execution.stop_at_step = its next rung; an attempt that ends there (outcome rung,
// action park) leaves the trial parked: pending in the database, not queued. A free worker
// takes a promoted trial first (it resumes from its rung checkpoint), else the queue's front.
// Once nothing runs, nothing is queued and nothing can be promoted, the parked trials are
// recorded stopped. On a restart ASHA's state is rebuilt from the database (rung_history): a
// pending trial whose last checkpoint is at a rung step with a validation loss there is parked
// at that rung; done and stopped trials count at the rungs they reached.
#pragma once

#include <atomic>
#include <chrono>
#include <deque>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "orchestrator/protocol.hpp"
#include "orchestrator/status_display.hpp"
#include "orchestrator/transport.hpp"
#include "results/store.hpp"
#include "search/asha.hpp"
#include "sweeps/sweep_spec.hpp"
#include "sweeps/trial_config.hpp"

namespace locsweep {

class StatusSnapshotWriter;  // orchestrator/status_snapshot.hpp

struct CoordinatorOptions {
  DispatchOrder order = DispatchOrder::longest_first;
  // A worker rank not heard from this long (any message counts; every rank sends at least a
  // heartbeat each protocol::kRankHeartbeatS, idle or busy) is lost: its trial goes back to
  // pending (not counted as the trial's failure) and it gets no more work.
  double worker_silence_s = 300;
  double commit_interval_s = 0.05;  // group commit: at most this long between a write and its fsync
  double run_heartbeat_s = 5;       // refreshes the run's lease
  double stop_grace_s = 180;        // after a stop, how long to wait for trials to checkpoint
  std::optional<int> max_retries;   // overrides execution.max_retries
  std::optional<double> timeout_s;  // overrides execution.timeout_s
  nlohmann::json manifest;          // shared fields of every attempt's manifest
  const std::atomic<bool>* stop = nullptr;
  StatusSnapshotWriter* snapshot = nullptr;  // given each turn's counts; none: no snapshot
  // What the coordinator reads the time from (silence, stop grace, commit interval, the run
  // heartbeat); empty: std::chrono::steady_clock. Tests drive it by hand.
  std::function<std::chrono::steady_clock::time_point()> clock;
  // Trials that appear while the sweep runs (a search's next points:
  // orchestrator/search_feed.hpp), already registered with the sweep: asked at the start and
  // after every trial that settles (done or failed for good), except while stopping or
  // paused. What it returns is scheduled like the other trials (a hash the coordinator holds
  // already is ignored); the sweep is settled only once it returned nothing more.
  std::function<std::vector<TrialRecord>()> more_trials;
  // The sweep's early_stopping: block (ASHA); none: every trial trains to train.steps. Its
  // state is rebuilt from what the store recorded for sweep `sweep_id` (-1: nothing recorded).
  std::optional<AshaSpec> early_stopping;
  int64_t sweep_id = -1;
};

class Coordinator {
 public:
  enum class Ending { complete, interrupted, failed, paused };

  // `trials`: those that may still run (ResultsStore::open_trials); `settled`: how many
  // others of the sweep are done or failed already (for the counts).
  Coordinator(ResultsStore& store, int64_t run_id, std::vector<TrialRecord> trials,
              SweepCounts settled, Transport& transport, StatusDisplay& display,
              CoordinatorOptions options);
  Ending run();
  SweepCounts counts() const;
  // For the clean-up after an error: whether worker w said bye, or was given up on as lost.
  bool worker_done(int w) const { return workers_.at(static_cast<size_t>(w)).done; }
  bool worker_lost(int w) const { return workers_.at(static_cast<size_t>(w)).lost; }
  // Why the run paused (Ending::paused): what to free, and that the same command resumes.
  const std::string& pause_message() const { return pause_message_; }

 private:
  using Clock = std::chrono::steady_clock;
  struct Worker {
    bool ready = false, done = false, lost = false;
    int64_t attempt_id = -1;
    size_t trial = 0;
    Clock::time_point last_heard;
    protocol::Ready info;  // from its ready message
  };
  // What close_attempt decided for a trial from its attempt's outcome.
  struct Verdict {
    TrialStatus next = TrialStatus::done;
    bool requeue = false;  // back to the front of the queue
    std::string text;      // for the display
  };
  struct Attempt {
    size_t trial;
    int worker;
  };
  // A trial parked at an early-stopping rung (index into the rungs), with its step and loss.
  struct Parked {
    size_t rung = 0;
    int step = 0;
    double loss = 0;
  };

  Clock::time_point now() const;
  void queue_pending();
  void enqueue(size_t index);  // pending trial `index`: queued, waiting for its base, or failed
  void take_more_trials();     // options_.more_trials's trials join the sweep
  // Staged sweeps: where trial `index`'s base stands (none: it has none).
  enum class BaseState { none, done, waiting, failed };
  BaseState base_state(size_t index) const;
  void wait_for_base(size_t index);
  void release_dependents(size_t base_index);
  void fail_for_base(size_t index, const std::string& why);
  // The display's trial_ended event of a trial failed without an attempt of this run
  // (a failed base, a preemption budget spent before it was dispatched again).
  void note_failed_unstarted(const TrialRecord& t, Outcome outcome, const std::string& message);
  void adopt_finished_results();
  void adopt_finished_result(size_t index);
  void handle(int worker, const nlohmann::json& message);
  void handle_ready(int worker, protocol::Ready ready);
  void handle_events(int64_t attempt_id, const Attempt& attempt, const nlohmann::json& events);
  void handle_finished(int worker, const protocol::Finished& finished);
  void close_attempt(int64_t attempt_id, const TrialResult& result);
  void update_preemption_streak(size_t index, const TrialResult& result);
  Verdict decide(size_t index, TrialResult& result);
  void dispatch();
  void start_attempt(size_t w, size_t index);
  AttemptStart attempt_start(size_t w, const TrialRecord& t) const;
  bool drain_messages();
  void keep_lease();
  void release_when_settled(bool& shutdown_sent);
  bool stop_grace_expired();
  bool any_worker_alive() const;
  void check_silent_workers();
  void lose_worker(size_t w, Outcome outcome, const std::string& why);
  void request_stop();
  void write_began();
  void commit_if_due(bool force = false);
  bool all_settled() const;
  bool workers_gone() const;
  int max_retries_of(size_t index) const;
  int max_preemptions_of(size_t index) const;
  double timeout_of(size_t index) const;
  void apply_preemption_budget();
  std::string preemption_verdict(size_t index, int interruptions) const;
  void pause_for_disk_full(const TrialRecord& t);
  // Early stopping (ASHA): its state from the store; whether trial `index` is under it (not a
  // base); a rung reached (asha_ and rung_losses_); the rung at a step; the step an attempt
  // stops at (0: train.steps); a parked trial ASHA promotes now; the next trial a free worker
  // takes (a promoted one, else the queue's front); the verdict of an attempt that ended at a
  // rung; the parked trials recorded stopped once nothing else can happen.
  void rebuild_asha();
  bool under_asha(size_t index) const;
  void asha_reached(const std::string& hash, size_t rung, double loss);
  std::optional<size_t> rung_at(int step) const;
  int stop_at_step_of(size_t index) const;
  std::optional<size_t> take_promotion();
  std::optional<size_t> next_to_start();
  Verdict park(size_t index, const TrialResult& r);
  void stop_parked_when_idle();
  void count(TrialStatus status, int delta);
  void set_status(TrialRecord& t, TrialStatus status);  // every status change goes through here

  ResultsStore& store_;
  int64_t run_id_;
  std::vector<TrialRecord> trials_;
  std::vector<ExecutionConfig> execution_;  // per trial: its config's execution block
  Transport& transport_;
  StatusDisplay& display_;
  CoordinatorOptions options_;
  std::vector<Worker> workers_;
  std::map<int64_t, Attempt> attempts_;
  std::deque<size_t> queue_;
  std::unordered_map<std::string, size_t> index_of_;  // hash -> index in trials_
  std::map<size_t, std::vector<size_t>> waiting_;     // base index -> pending dependents
  SweepCounts counts_;
  std::vector<int> preemptions_;  // per trial: attempts interrupted in a row
  bool stopping_ = false;
  bool paused_ = false;  // a disk is full: dispatch nothing more
  std::string pause_message_;
  std::optional<Asha> asha_;
  std::vector<std::map<std::string, double>> rung_losses_;  // per rung: who reached it, loss
  std::map<size_t, Parked> parked_;                         // trial index -> where it waits
  std::deque<size_t> promoted_;            // promoted while no worker was free: started first
  std::unordered_set<std::string> bases_;  // hashes of bases: ASHA leaves them alone
  Clock::time_point stop_at_{}, batch_began_{}, last_run_heartbeat_{}, last_silence_check_{};
};

}  // namespace locsweep
