#include "orchestrator/coordinator.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <climits>
#include <filesystem>

#include "common/disk_space.hpp"
#include "common/files.hpp"
#include "orchestrator/protocol.hpp"
#include "orchestrator/status_snapshot.hpp"
#include "trial/child_protocol.hpp"
#include "trial/outcome.hpp"
#include "trial/trial_process.hpp"

namespace locsweep {
namespace fs = std::filesystem;
using nlohmann::json;

Coordinator::Coordinator(ResultsStore& store, int64_t run_id, std::vector<TrialRecord> trials,
                         SweepCounts settled, Transport& transport, StatusDisplay& display,
                         CoordinatorOptions options)
    : store_(store),
      run_id_(run_id),
      trials_(std::move(trials)),
      transport_(transport),
      display_(display),
      options_(std::move(options)),
      workers_(static_cast<size_t>(transport.worker_count())),
      counts_(settled) {
  execution_.reserve(trials_.size());
  for (size_t i = 0; i < trials_.size(); ++i) {
    const TrialRecord& t = trials_[i];
    count(t.status, +1);
    execution_.push_back(execution_config_from_json(t.config));
    index_of_.emplace(t.hash, i);
  }
  adopt_finished_results();
  apply_preemption_budget();
  rebuild_asha();
  queue_pending();
  last_run_heartbeat_ = last_silence_check_ = now();
  for (auto& w : workers_)
    w.last_heard = last_silence_check_;  // a rank that never speaks is lost too
}

Coordinator::Clock::time_point Coordinator::now() const {
  return options_.clock ? options_.clock() : Clock::now();
}

// The dispatch order: interrupted trials (with a checkpoint) first, then longest-first or
// plan order.
void Coordinator::queue_pending() {
  std::vector<size_t> pending;
  for (size_t i = 0; i < trials_.size(); ++i)
    if (trials_[i].status == TrialStatus::pending && !parked_.count(i)) pending.push_back(i);
  if (options_.order == DispatchOrder::longest_first)
    std::stable_sort(pending.begin(), pending.end(),
                     [&](size_t a, size_t b) { return trials_[a].cost > trials_[b].cost; });
  // Interrupted trials (with a checkpoint) first: they finish soonest and free their disk.
  std::stable_partition(pending.begin(), pending.end(),
                        [&](size_t i) { return trials_[i].last_step > 0; });
  queue_.clear();
  for (size_t i : pending) enqueue(i);
  commit_if_due(true);
}

void Coordinator::enqueue(size_t i) {
  switch (base_state(i)) {
    case BaseState::none:
    case BaseState::done:
      queue_.push_back(i);
      break;
    case BaseState::waiting:
      wait_for_base(i);
      break;
    case BaseState::failed:
      fail_for_base(
          i, trials_[i].base_label.empty() ? trials_[i].base.substr(0, 12) : trials_[i].base_label);
      break;
  }
}

// New trials join the per-trial state and the back of the queue (a search asks its points
// in order).
void Coordinator::take_more_trials() {
  if (!options_.more_trials || stopping_ || paused_) return;
  write_began();  // the hook writes the trials it registers into this run's batch
  for (TrialRecord& t : options_.more_trials()) {
    if (index_of_.count(t.hash)) continue;
    const size_t index = trials_.size();
    index_of_.emplace(t.hash, index);
    execution_.push_back(execution_config_from_json(t.config));
    preemptions_.push_back(0);
    count(t.status, +1);
    trials_.push_back(std::move(t));
    if (trials_[index].status == TrialStatus::pending) enqueue(index);
  }
}

Coordinator::BaseState Coordinator::base_state(size_t index) const {
  const TrialRecord& t = trials_[index];
  if (t.base.empty()) return BaseState::none;
  const auto it = index_of_.find(t.base);
  const std::optional<TrialStatus> status =
      it != index_of_.end() ? std::optional(trials_[it->second].status) : t.base_status;
  if (status == TrialStatus::done) return BaseState::done;
  // A base of this run still to run; one that is neither here nor done (not recorded) fails.
  if (it != index_of_.end() && status != TrialStatus::failed) return BaseState::waiting;
  return BaseState::failed;
}

void Coordinator::wait_for_base(size_t index) {
  waiting_[index_of_.at(trials_[index].base)].push_back(index);
}

// Trial `base_index` has settled: its waiting dependents join the queue (done) or fail.
void Coordinator::release_dependents(size_t base_index) {
  const TrialStatus status = trials_[base_index].status;
  if (status != TrialStatus::done && status != TrialStatus::failed) return;
  const auto it = waiting_.find(base_index);
  if (it == waiting_.end()) return;
  const std::vector<size_t> dependents = std::move(it->second);
  waiting_.erase(it);
  for (size_t d : dependents) {
    if (trials_[d].status != TrialStatus::pending) continue;
    if (status == TrialStatus::done)
      queue_.push_back(d);
    else
      fail_for_base(d, trials_[base_index].label);
  }
}

// Fails trial `index`, which never started: its base (`base_label`) failed for good.
void Coordinator::note_failed_unstarted(const TrialRecord& t, Outcome outcome,
                                        const std::string& message) {
  display_.note("trial_ended",
                {{"trial", t.label},
                 {"hash", t.hash},
                 {"outcome", to_string(outcome)},
                 {"status", to_string(TrialStatus::failed)},
                 {"message", message}},
                t.label + " failed: " + message);
}

void Coordinator::fail_for_base(size_t index, const std::string& base_label) {
  TrialRecord& t = trials_[index];
  const std::string message = fmt::format(
      "its base '{}' ({}) failed, so it could not start; see that trial's error, then run "
      "again with --retry-failed",
      base_label, t.base.substr(0, 12));
  write_began();
  store_.fail_unstarted_trial(t.hash, message);
  set_status(t, TrialStatus::failed);
  note_failed_unstarted(t, Outcome::error, message);
  release_dependents(index);  // its own dependents (a chain of bases) fail too
}

SweepCounts Coordinator::counts() const {
  return counts_;
}

// Kept up to date on every change: the loop reads the counts each turn, and counting 100,000
// trials each turn made a large sweep's dispatch quadratic.
void Coordinator::count(TrialStatus status, int delta) {
  switch (status) {
    case TrialStatus::done:
      counts_.done += delta;
      break;
    case TrialStatus::failed:
      counts_.failed += delta;
      break;
    case TrialStatus::running:
      counts_.running += delta;
      break;
    case TrialStatus::pending:
      counts_.pending += delta;
      break;
    case TrialStatus::stopped:
      counts_.stopped += delta;
      break;
  }
}

void Coordinator::set_status(TrialRecord& t, TrialStatus status) {
  count(t.status, -1);
  t.status = status;
  count(status, +1);
}

int Coordinator::max_retries_of(size_t index) const {
  return options_.max_retries.value_or(execution_[index].max_retries);
}

int Coordinator::max_preemptions_of(size_t index) const {
  return execution_[index].max_preemptions;
}

double Coordinator::timeout_of(size_t index) const {
  return options_.timeout_s.value_or(execution_[index].timeout_s);
}

std::string Coordinator::preemption_verdict(size_t index, int interruptions) const {
  return fmt::format(
      "interrupted {} times in a row without progress (execution.max_preemptions: {}); a trial "
      "that is always "
      "preempted, or that kills its own job, is not resumed forever: look at its log in {}, "
      "then run again with --retry-failed",
      interruptions, max_preemptions_of(index), trials_[index].out_dir);
}

// Interruptions a previous run could not count: its job was killed (by Slurm, by hand, by
// the trial itself), and the next run closed its attempts as interrupted.
void Coordinator::apply_preemption_budget() {
  const auto streaks = store_.preemption_streaks();
  preemptions_.assign(trials_.size(), 0);
  for (size_t i = 0; i < trials_.size(); ++i) {
    TrialRecord& t = trials_[i];
    const auto it = streaks.find(t.hash);
    if (it == streaks.end()) continue;
    preemptions_[i] = it->second;
    if (t.status != TrialStatus::pending || preemptions_[i] <= max_preemptions_of(i)) continue;
    const std::string message = preemption_verdict(i, preemptions_[i]);
    write_began();
    store_.fail_preempted_trial(t.hash, message);
    set_status(t, TrialStatus::failed);
    note_failed_unstarted(t, Outcome::preempted, message);
  }
  commit_if_due(true);
}

void Coordinator::pause_for_disk_full(const TrialRecord& t) {
  if (paused_) return;
  paused_ = true;
  pause_message_ = describe_disk_full(t.out_dir) + ": free space and run the same command again";
  display_.note("sweep_paused", {{"path", t.out_dir}, {"message", pause_message_}},
                "sweep paused (no new trials; running ones finish): " + pause_message_);
}

// A trial that finished but whose result never reached the database (the coordinator was
// killed between the two) left result.json in its folder: record it instead of re-running.
void Coordinator::adopt_finished_results() {
  for (size_t index = 0; index < trials_.size(); ++index) {
    if (trials_[index].status != TrialStatus::pending) continue;
    try {
      adopt_finished_result(index);
    } catch (const std::exception&) {
      // A partial or foreign file: the trial simply runs (resuming from its checkpoint).
    }
  }
  commit_if_due(true);
}

// Records trial `index` as done from its result.json, if it left one of its own; throws for
// an unreadable one.
void Coordinator::adopt_finished_result(size_t index) {
  TrialRecord& t = trials_[index];
  const fs::path result_path = fs::path(t.out_dir) / "result.json";
  const fs::path trial_path = fs::path(t.out_dir) / "trial.json";
  if (!fs::exists(result_path) || !fs::exists(trial_path)) return;
  const json identity = json::parse(read_file(trial_path));
  const TrialResult r = trial_result_from_json(json::parse(read_file(result_path)));
  if (identity.value("hash", "") != t.hash || r.outcome != Outcome::done) return;
  write_began();
  AttemptStart start;
  start.manifest = options_.manifest;
  start.manifest["adopted_from"] = result_path.string();
  const int64_t id = store_.start_attempt(t.hash, t.attempts + 1, run_id_, start);
  t.attempts += 1;
  TrialResult adopted = r;
  adopted.message = "recorded from result.json written before the previous run was interrupted";
  store_.finish_attempt(id, t.hash, adopted, TrialStatus::done, t.retries_used);
  // Its last steps may not have been committed either: its attempts' events files have them.
  handle_events(id, {index, -1},
                recorded_progress(t.out_dir, t.attempts, UINTMAX_MAX, adopted.steps_done));
  set_status(t, TrialStatus::done);
  display_.note("trial_adopted", {{"trial", t.label}, {"hash", t.hash}},
                fmt::format("{}: finished before the last run was interrupted; recorded", t.label));
}

void Coordinator::write_began() {
  if (!store_.in_batch()) {
    store_.begin_batch();
    batch_began_ = now();
  }
}

void Coordinator::commit_if_due(bool force) {
  if (!store_.in_batch()) return;
  if (force ||
      std::chrono::duration<double>(now() - batch_began_).count() >= options_.commit_interval_s)
    store_.commit_batch();
}

void Coordinator::handle(int w, const json& message) {
  Worker& worker = workers_.at(static_cast<size_t>(w));
  if (worker.lost) return;  // it was sent `abandon`; its trial runs elsewhere
  worker.last_heard = now();
  protocol::FromRank decoded = protocol::decode_from_rank(message);
  std::visit(
      protocol::overloaded{
          [&](protocol::Ready& ready) { handle_ready(w, std::move(ready)); },
          [&](const protocol::Events& events) {
            const auto it = attempts_.find(events.attempt_id);
            if (it != attempts_.end()) handle_events(events.attempt_id, it->second, events.events);
          },
          [&](const protocol::Finished& finished) { handle_finished(w, finished); },
          [&](const protocol::Heartbeat&) {}, [&](const protocol::Bye&) { worker.done = true; }},
      decoded);
}

void Coordinator::handle_ready(int w, protocol::Ready ready) {
  Worker& worker = workers_.at(static_cast<size_t>(w));
  worker.ready = true;
  worker.info = std::move(ready);
  if (stopping_) transport_.send(w, protocol::to_json(protocol::Stop{}));
}

void Coordinator::handle_events(int64_t attempt_id, const Attempt& attempt, const json& events) {
  TrialRecord& t = trials_[attempt.trial];
  write_began();
  for (const auto& e : events) {
    const std::string kind = e.value("event", "");
    auto opt = [&](const char* key) -> std::optional<double> {
      return e.contains(key) && e[key].is_number() ? std::optional<double>(e[key].get<double>())
                                                   : std::nullopt;
    };
    if (kind == "step") {
      store_.record_step(t.hash, attempt_id, "train", e.value("step", 0), e.value("loss", 0.0),
                         opt("lr"), opt("tokens_per_s"), opt("penalty"));
    } else if (kind == "eval") {
      store_.record_step(t.hash, attempt_id, "val", e.value("step", 0), e.value("val_loss", 0.0),
                         std::nullopt, std::nullopt, std::nullopt);
    } else if (kind == "checkpoint") {
      t.last_step = e.value("step", 0);
      store_.record_checkpoint(t.hash, t.last_step);
    } else if (kind == "warning") {
      display_.note("trial_warning", {{"trial", t.label}, {"message", e.value("message", "")}},
                    t.label + ": " + e.value("message", ""));
    }
  }
}

// An interruption counts against execution.max_preemptions only when the attempt left no
// newer checkpoint (store.hpp, preemption_streaks): progress ends the streak. A paused
// attempt leaves the streak as it was; any other outcome ends it.
void Coordinator::update_preemption_streak(size_t index, const TrialResult& r) {
  switch (action_for(r.outcome)) {
    case CoordinatorAction::resume:
      preemptions_[index] = trials_[index].last_step > r.resumed_from ? 0 : preemptions_[index] + 1;
      break;
    case CoordinatorAction::pause_sweep:
      break;
    default:
      preemptions_[index] = 0;
  }
}

// What becomes of trial `index` after an attempt that ended with `r` (trial/outcome.hpp's
// table says which action; this applies the trial's budgets). May amend r.message.
Coordinator::Verdict Coordinator::decide(size_t index, TrialResult& r) {
  TrialRecord& t = trials_[index];
  switch (action_for(r.outcome)) {
    case CoordinatorAction::record_done:
      return {TrialStatus::done, false,
              r.val_tokens > 0 ? fmt::format("done: val ppl {:.3f}", r.val_ppl) : "done"};
    case CoordinatorAction::resume:
      if (preemptions_[index] > max_preemptions_of(index)) {
        r.message = preemption_verdict(index, preemptions_[index]) + " (last: " + r.message + ")";
        return {TrialStatus::failed, false, "failed: " + r.message};
      }
      // resumes from its checkpoint; not the trial's fault
      return {TrialStatus::pending, !stopping_,
              "interrupted at step " + std::to_string(r.steps_done) + " (will resume)"};
    case CoordinatorAction::run_elsewhere:
      return {TrialStatus::pending, !stopping_,
              r.message + "; the trial runs again on another rank"};
    case CoordinatorAction::pause_sweep:
      pause_for_disk_full(t);  // not the trial's fault either: resumes once there is room
      return {TrialStatus::pending, true, "stopped: " + r.message};
    case CoordinatorAction::retry:
      if (t.retries_used < max_retries_of(index)) {
        ++t.retries_used;
        return {TrialStatus::pending, true,
                fmt::format("{} ({}); retry {}/{} from its last checkpoint", to_string(r.outcome),
                            r.message, t.retries_used, max_retries_of(index))};
      }
      break;
    case CoordinatorAction::park:
      return park(index, r);
    case CoordinatorAction::fail:
      break;
  }
  return {TrialStatus::failed, false,
          fmt::format("failed: {} ({})", to_string(r.outcome), r.message)};
}

void Coordinator::close_attempt(int64_t attempt_id, const TrialResult& result) {
  const auto it = attempts_.find(attempt_id);
  if (it == attempts_.end()) return;  // stale (a worker we gave up on came back)
  const size_t index = it->second.trial;
  TrialRecord& t = trials_[index];
  attempts_.erase(it);

  TrialResult r = result;
  update_preemption_streak(index, r);
  const Verdict verdict = decide(index, r);
  if (verdict.requeue) queue_.push_front(index);
  set_status(t, verdict.next);
  write_began();
  store_.finish_attempt(attempt_id, t.hash, r, verdict.next, t.retries_used);
  display_.note(r.outcome == Outcome::done ? "trial_done" : "trial_ended",
                {{"trial", t.label},
                 {"hash", t.hash},
                 {"outcome", to_string(r.outcome)},
                 {"status", to_string(verdict.next)},
                 {"val_ppl", r.val_ppl},
                 {"message", r.message}},
                t.label + " " + verdict.text);
  release_dependents(index);
  if (verdict.next == TrialStatus::done || verdict.next == TrialStatus::failed) take_more_trials();
}

void Coordinator::handle_finished(int w, const protocol::Finished& finished) {
  Worker& worker = workers_.at(static_cast<size_t>(w));
  close_attempt(finished.attempt_id, finished.result);
  if (worker.attempt_id == finished.attempt_id) worker.attempt_id = -1;
}

void Coordinator::dispatch() {
  if (stopping_ || paused_) return;
  for (size_t w = 0; w < workers_.size(); ++w) {
    const Worker& worker = workers_[w];
    if (!worker.ready || worker.done || worker.lost || worker.attempt_id >= 0) continue;
    const std::optional<size_t> index = next_to_start();
    if (!index) break;
    start_attempt(w, *index);
  }
}

std::optional<size_t> Coordinator::next_to_start() {
  if (const auto promoted = take_promotion()) return promoted;
  while (!queue_.empty()) {
    const size_t index = queue_.front();
    queue_.pop_front();
    if (trials_[index].status == TrialStatus::pending) return index;
  }
  return std::nullopt;
}

void Coordinator::rebuild_asha() {
  if (!options_.early_stopping) return;
  asha_.emplace(*options_.early_stopping);
  const std::vector<int>& rungs = asha_->spec().rungs;
  rung_losses_.assign(rungs.size() + 1, {});
  for (const TrialRecord& t : trials_)
    if (!t.base.empty()) bases_.insert(t.base);
  if (options_.sweep_id >= 0) {
    for (const auto& h : store_.rung_history(options_.sweep_id, rungs)) {
      if (h.is_base) bases_.insert(h.hash);
      if (h.is_base || h.status == TrialStatus::failed) continue;
      // How far it trained: a done trial passed every rung; a stopped one its own; a pending
      // or running one (running: its run died) to its last checkpoint.
      const int trained = h.status == TrialStatus::done      ? INT_MAX
                          : h.status == TrialStatus::stopped ? h.steps_done
                                                             : h.last_step;
      for (size_t k = 0; k < rungs.size(); ++k)
        if (const auto v = h.val_at.find(rungs[k]); v != h.val_at.end() && rungs[k] <= trained)
          asha_reached(h.hash, k, v->second);
      if (h.status == TrialStatus::done && h.val_loss)
        asha_reached(h.hash, rungs.size(), *h.val_loss);
    }
  }
  // A pending trial resting at a rung it reached is parked there.
  for (size_t i = 0; i < trials_.size(); ++i) {
    const TrialRecord& t = trials_[i];
    if (t.status != TrialStatus::pending || !under_asha(i)) continue;
    const std::optional<size_t> k = rung_at(t.last_step);
    if (!k) continue;
    const auto loss = rung_losses_[*k].find(t.hash);
    if (loss != rung_losses_[*k].end()) parked_[i] = {*k, t.last_step, loss->second};
  }
}

bool Coordinator::under_asha(size_t index) const {
  return asha_ && !bases_.count(trials_[index].hash);
}

void Coordinator::asha_reached(const std::string& hash, size_t rung, double loss) {
  asha_->reached(hash, rung, loss);
  rung_losses_[rung].emplace(hash, loss);
}

std::optional<size_t> Coordinator::rung_at(int step) const {
  const std::vector<int>& rungs = asha_->spec().rungs;
  const auto it = std::find(rungs.begin(), rungs.end(), step);
  if (it == rungs.end()) return std::nullopt;
  return static_cast<size_t>(it - rungs.begin());
}

// ASHA's next rung for the trial, or the first rung past its last checkpoint when that is
// later (its rungs changed since it was parked), or 0 (train.steps).
int Coordinator::stop_at_step_of(size_t index) const {
  if (!under_asha(index)) return 0;
  const int next = asha_->next_stop(trials_[index].hash).value_or(0);
  if (next == 0 || next > trials_[index].last_step) return next;
  for (int rung : asha_->spec().rungs)
    if (rung > trials_[index].last_step) return rung;
  return 0;
}

// A parked trial that ASHA promotes now (it resumes from its rung checkpoint), if any.
// Promotions of trials that are not parked here are passed over: a trial stopped by an earlier
// run stays stopped, and one already past that rung (a replay) is on its way.
std::optional<size_t> Coordinator::take_promotion() {
  if (!promoted_.empty()) {
    const size_t index = promoted_.front();
    promoted_.pop_front();
    return index;
  }
  if (!asha_) return std::nullopt;
  while (const std::optional<std::string> id = asha_->promote()) {
    const auto it = index_of_.find(*id);
    if (it == index_of_.end()) continue;
    const auto parked = parked_.find(it->second);
    if (parked == parked_.end()) continue;
    const TrialRecord& t = trials_[it->second];
    display_.note("trial_promoted",
                  {{"trial", t.label}, {"hash", t.hash}, {"rung", parked->second.rung + 1}},
                  fmt::format("{} promoted from rung {} (step {}, val loss {:.4f})", t.label,
                              parked->second.rung + 1, parked->second.step, parked->second.loss));
    parked_.erase(parked);
    return it->second;
  }
  return std::nullopt;
}

// An attempt ended at the step it was asked to stop at: ASHA learns its loss there, and the
// trial waits (pending, not queued) to be promoted or stopped.
Coordinator::Verdict Coordinator::park(size_t index, const TrialResult& r) {
  const std::optional<size_t> k =
      under_asha(index) ? rung_at(static_cast<int>(r.steps_done)) : std::nullopt;
  if (!k)  // not a rung of this sweep (its early_stopping changed): it simply trains on
    return {
        TrialStatus::pending, !stopping_,
        fmt::format("stopped at step {}, not an early-stopping rung (will resume)", r.steps_done)};
  asha_reached(trials_[index].hash, *k, r.val_loss);
  parked_[index] = {*k, static_cast<int>(r.steps_done), r.val_loss};
  return {TrialStatus::pending, false,
          fmt::format("reached rung {} (step {}): val loss {:.4f}; parked", *k + 1, r.steps_done,
                      r.val_loss)};
}

// Nothing runs, nothing is queued and nothing can be promoted: the parked trials are stopped.
void Coordinator::stop_parked_when_idle() {
  if (parked_.empty() || stopping_ || paused_ || !attempts_.empty() || !promoted_.empty()) return;
  for (size_t index : queue_)
    if (trials_[index].status == TrialStatus::pending) return;
  if (const auto promoted = take_promotion()) {  // no worker was free when it became promotable
    promoted_.push_back(*promoted);
    return;
  }
  write_began();
  for (const auto& [index, p] : parked_) {
    TrialRecord& t = trials_[index];
    const std::string message = fmt::format(
        "stopped early at rung {} (step {}): val loss {:.4f}, not among the best 1/{} of {}",
        p.rung + 1, p.step, p.loss, asha_->spec().reduction, rung_losses_[p.rung].size());
    store_.stop_trial(t.hash, p.step, message);
    set_status(t, TrialStatus::stopped);
    display_.note("trial_stopped",
                  {{"trial", t.label},
                   {"hash", t.hash},
                   {"status", to_string(TrialStatus::stopped)},
                   {"rung", p.rung + 1},
                   {"step", p.step},
                   {"val_loss", p.loss},
                   {"message", message}},
                  t.label + " " + message);
  }
  parked_.clear();
  commit_if_due(true);
}

// What the attempts table records about where an attempt of `t` runs on worker w.
AttemptStart Coordinator::attempt_start(size_t w, const TrialRecord& t) const {
  const protocol::Ready& info = workers_[w].info;
  AttemptStart start;
  start.worker_rank = static_cast<int>(w) + 1;
  start.host = info.host;
  start.pid = info.pid;
  start.device = info.device;
  start.manifest = options_.manifest;
  start.manifest["host"] = start.host;
  start.manifest["device"] = start.device;
  start.manifest["threads"] = info.threads;
  start.manifest["worker_versions"] = info.versions;
  start.manifest["seed"] = t.config.value("seed", 0);
  start.manifest["trial_hash"] = t.hash;
  return start;
}

// Records a new attempt of trial `index` on worker w and sends it there.
void Coordinator::start_attempt(size_t w, size_t index) {
  Worker& worker = workers_[w];
  TrialRecord& t = trials_[index];
  const int number = t.attempts + 1;
  write_began();
  const int64_t attempt_id = store_.start_attempt(t.hash, number, run_id_, attempt_start(w, t));
  t.attempts = number;
  set_status(t, TrialStatus::running);
  attempts_[attempt_id] = {index, static_cast<int>(w)};
  worker.attempt_id = attempt_id;
  worker.trial = index;
  worker.last_heard = now();
  protocol::Assign assign;
  assign.attempt_id = attempt_id;
  assign.hash = t.hash;
  assign.number = number;
  assign.config = t.config;
  // Under early stopping it trains to its next rung and stops there; any other trial of a
  // sweep trains to train.steps (0), whatever its execution block says.
  assign.config["execution"]["stop_at_step"] = stop_at_step_of(index);
  if (!t.base.empty())  // starts from its base's final weights, loaded as checkpoint: is
    assign.config["model"]["init"] =
        "checkpoint:" + fs::absolute(trial_checkpoint_file(t.base_out_dir)).string();
  assign.out_dir = t.out_dir;
  assign.timeout_s = timeout_of(index);
  assign.kill_grace_s = execution_[index].kill_grace_s;
  transport_.send(static_cast<int>(w), protocol::to_json(assign));
}

// Silence counts only while the coordinator listens: a turn that took longer than a heartbeat
// period (a slow commit, a busy database) does not make every rank look silent.
void Coordinator::check_silent_workers() {
  const auto at = now();
  const auto away = at - last_silence_check_ -
                    std::chrono::duration_cast<Clock::duration>(
                        std::chrono::duration<double>(protocol::kRankHeartbeatS));
  last_silence_check_ = at;
  for (size_t w = 0; w < workers_.size(); ++w) {
    Worker& worker = workers_[w];
    if (worker.lost || worker.done) continue;
    if (away > Clock::duration::zero()) worker.last_heard += away;
    const double silent = std::chrono::duration<double>(at - worker.last_heard).count();
    if (silent < options_.worker_silence_s) continue;
    lose_worker(w, Outcome::lost,
                fmt::format("worker rank {} was silent for {:.1f} s (--worker-silence {:g}): lost",
                            w + 1, silent, options_.worker_silence_s));
  }
}

// Gives up on a worker rank for good: it is told to abandon its trial (should it ever run
// again), is sent nothing else, and the job does not wait for it at its end. Its attempt ends
// with `outcome`.
void Coordinator::lose_worker(size_t w, Outcome outcome, const std::string& why) {
  Worker& worker = workers_[w];
  worker.lost = true;
  transport_.send(static_cast<int>(w), protocol::to_json(protocol::Abandon{}));
  transport_.give_up_on(static_cast<int>(w));
  const protocol::Ready& info = worker.info;  // empty: it never said ready
  const std::string where = fmt::format("{} pid {}", info.host.empty() ? "?" : info.host, info.pid);
  display_.note("worker_lost",
                {{"rank", w + 1},
                 {"host", info.host},
                 {"pid", info.pid},
                 {"busy", worker.attempt_id >= 0},
                 {"message", why}},
                fmt::format("{} ({}, {}); it gets no more work", why, where,
                            worker.attempt_id >= 0 ? "its trial goes back to pending" : "idle"));
  if (worker.attempt_id < 0) return;
  TrialResult r;
  r.outcome = outcome;
  r.message = why;
  const int64_t id = worker.attempt_id;
  worker.attempt_id = -1;
  close_attempt(id, r);
}

void Coordinator::request_stop() {
  if (stopping_) return;
  stopping_ = true;
  stop_at_ = now();
  display_.note("stopping", {}, "stop requested: checkpointing running trials");
  for (size_t w = 0; w < workers_.size(); ++w)
    if (workers_[w].ready && !workers_[w].done && !workers_[w].lost)
      transport_.send(static_cast<int>(w), protocol::to_json(protocol::Stop{}));
}

bool Coordinator::all_settled() const {
  return counts_.pending == 0 && counts_.running == 0;
}

bool Coordinator::workers_gone() const {
  for (const auto& w : workers_)
    if (!w.done && !w.lost) return false;
  return true;
}

bool Coordinator::any_worker_alive() const {
  for (const auto& w : workers_)
    if (!w.lost && !w.done) return true;
  return false;
}

// Handles what has arrived (up to a burst). False when the transport ran dry: only then can
// silence be judged.
bool Coordinator::drain_messages() {
  for (int burst = 0; burst < 256; ++burst) {
    auto message = transport_.receive(burst == 0 ? 2000 : 0);
    if (!message) return false;
    handle(message->first, message->second);
  }
  return true;
}

// Refreshes the run's lease every run_heartbeat_s.
void Coordinator::keep_lease() {
  const auto at = now();
  if (std::chrono::duration<double>(at - last_run_heartbeat_).count() < options_.run_heartbeat_s)
    return;
  write_began();
  store_.heartbeat(run_id_);
  last_run_heartbeat_ = at;
}

// Done, or paused with nothing running any more: release the workers (once).
void Coordinator::release_when_settled(bool& shutdown_sent) {
  if (stopping_ || shutdown_sent || !(all_settled() || (paused_ && attempts_.empty()))) return;
  commit_if_due(true);
  for (size_t w = 0; w < workers_.size(); ++w)
    if (!workers_[w].done && !workers_[w].lost)
      transport_.send(static_cast<int>(w), protocol::to_json(protocol::Shutdown{}));
  shutdown_sent = true;
}

// After a stop: once the grace period is over, workers that did not report end their attempts
// interrupted (their checkpoints stay). True when it was over.
bool Coordinator::stop_grace_expired() {
  if (!stopping_ ||
      std::chrono::duration<double>(now() - stop_at_).count() <= options_.stop_grace_s)
    return false;
  for (size_t w = 0; w < workers_.size(); ++w)
    if (!workers_[w].done && !workers_[w].lost)
      lose_worker(w, Outcome::preempted,
                  fmt::format("worker rank {}: no report within the stop grace period", w + 1));
  return true;
}

Coordinator::Ending Coordinator::run() {
  bool shutdown_sent = false;
  take_more_trials();
  display_.update(counts(), true);
  for (;;) {
    if (options_.stop && options_.stop->load()) request_stop();
    // Drain what has arrived, then dispatch, then look after time-based duties.
    const bool backlog = drain_messages();
    dispatch();
    stop_parked_when_idle();
    if (!backlog) check_silent_workers();
    commit_if_due();
    keep_lease();
    display_.update(counts());
    if (options_.snapshot) options_.snapshot->update(counts());
    release_when_settled(shutdown_sent);
    if (workers_gone() || stop_grace_expired()) break;
    if (!any_worker_alive() && !all_settled()) break;
  }
  commit_if_due(true);
  display_.update(counts(), true);
  if (paused_) return Ending::paused;  // before interrupted: a requeue would find no space either
  if (stopping_) return Ending::interrupted;
  return all_settled() ? Ending::complete : Ending::failed;
}

}  // namespace locsweep
