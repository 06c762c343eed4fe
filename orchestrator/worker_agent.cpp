#include "orchestrator/worker_agent.hpp"

#include <signal.h>
#include <unistd.h>

#include <filesystem>
#include <thread>

#include "common/disk_space.hpp"
#include "common/files.hpp"
#include "orchestrator/protocol.hpp"
#include "sweeps/trial_config.hpp"
#include "worker/runtime_info.hpp"
#include "worker/trial.hpp"

namespace locsweep {
namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;
using nlohmann::json;

namespace {

// The noop fields of a coordinator's config (to_json of a valid TrialConfig). The full
// trial_config_from_json goes through the YAML field table: ~75 % of an inline noop trial's
// cost in the orchestration benchmark, for three numbers.
TrialConfig noop_config_from_json(const json& config) {
  TrialConfig c;
  c.kind = TrialKind::noop;
  c.seed = config.value("seed", 0);
  const json noop = config.value("noop", json::object());
  c.noop.duration_s = noop.value("duration_s", c.noop.duration_s);
  c.noop.fail = noop.value("fail", c.noop.fail);
  c.noop.fail_attempts = noop.value("fail_attempts", c.noop.fail_attempts);
  return c;
}

}  // namespace

bool WorkerAgent::out_dir_has_no_space() const {
  return is_disk_full(out_dir_, 1 << 20, 0);
}

WorkerAgent::WorkerAgent(WorkerSetup setup) : setup_(std::move(setup)), last_sent_(Clock::now()) {}

json WorkerAgent::ready_message() const {
  return {{"type", protocol::kReady},
          {"host", setup_.host},
          {"pid", static_cast<int64_t>(::getpid())},
          {"device", setup_.device},
          {"threads", setup_.threads},
          {"versions", library_versions()}};
}

void WorkerAgent::on_message(const json& message) {
  const std::string type = message.value("type", "");
  if (type == protocol::kAssign) {
    start(message);
  } else if (type == protocol::kStop) {
    stopping_ = true;
    stop_running();
  } else if (type == protocol::kShutdown) {
    shutdown_ = true;
  } else if (type == protocol::kAbandon) {
    abandon();
  }
}

// The coordinator gave up on this rank (it was stopped or stalled) and runs its trial
// elsewhere: the trial dies at once, unreported, so two copies never share its folder.
void WorkerAgent::abandon() {
  process_.reset();  // SIGKILLs the process group and reaps it
  inline_assign_.reset();
  attempt_id_ = -1;
  shutdown_ = true;
}

void WorkerAgent::start(const json& assign) {
  attempt_id_ = assign.at("attempt_id").get<int64_t>();
  timeout_s_ = assign.value("timeout_s", 0.0);
  kill_grace_s_ = assign.value("kill_grace_s", ExecutionConfig{}.kill_grace_s);
  timed_out_ = false;
  started_ = last_sent_ = Clock::now();
  result_ = nullptr;
  const json& config = assign.at("config");
  if (setup_.inline_noop && config.value("kind", "") == "noop") {
    inline_assign_ = assign;
    return;
  }
  out_dir_ = assign.at("out_dir").get<std::string>();
  number_ = assign.value("number", 1);
  try {
    fs::create_directories(out_dir_);
    const fs::path config_path = out_dir_ / ("attempt-" + std::to_string(number_) + ".config.json");
    write_file_atomic(config_path, config.dump());
    process_.emplace(TrialProcess::spawn(
        {setup_.executable, "trial-exec", "--config-json", config_path.string(), "--out",
         out_dir_.string(), "--resume", "--attempt", std::to_string(number_), "--device",
         setup_.device, "--threads", std::to_string(setup_.threads), "--parent-pid",
         std::to_string(::getpid()), "--kill-grace", std::to_string(kill_grace_s_)},
        out_dir_ / ("attempt-" + std::to_string(number_) + ".log"),
        attempt_events_file(out_dir_, number_)));
  } catch (const std::exception& e) {
    // Not even started (its folder's disk is full, a file system error): reported as the
    // attempt's end at the next poll; the worker goes on.
    TrialResult r;
    r.outcome = out_dir_has_no_space() ? Outcome::disk_full : Outcome::crash;
    r.message = (r.outcome == Outcome::disk_full ? describe_disk_full(out_dir_) + ": " : "") +
                "cannot start the trial process: " + e.what();
    start_failure_ = to_json(r);
  }
}

void WorkerAgent::stop_running() {
  if (process_) {
    process_->signal(SIGTERM);  // the trial checkpoints at its next step and reports preempted
    stop_sent_ = Clock::now();
  }
}

json WorkerAgent::finish(const json& result) {
  json message = {{"type", protocol::kFinished}, {"attempt_id", attempt_id_}, {"result", result}};
  attempt_id_ = -1;
  process_.reset();
  inline_assign_.reset();
  start_failure_.reset();
  last_sent_ = Clock::now();
  return message;
}

// At its time limit an attempt gets SIGTERM (it checkpoints at its next step and reports
// preempted), and SIGKILL kill_grace_s later if it is still there; either way it ends as a
// timeout, resumed from its last checkpoint if retried.
void WorkerAgent::enforce_time_limit() {
  const auto now = Clock::now();
  if (!timed_out_) {
    if (timeout_s_ <= 0 || stopping_ ||
        std::chrono::duration<double>(now - started_).count() <= timeout_s_)
      return;
    timed_out_ = true;
    term_sent_ = now;
    process_->signal(SIGTERM);
  } else if (std::chrono::duration<double>(now - term_sent_).count() > kill_grace_s_) {
    process_->kill_hard();
  }
}

std::string WorkerAgent::time_limit_text() const {
  return "its time limit of " + std::to_string(static_cast<int>(timeout_s_)) + " s";
}

json WorkerAgent::result_from_exit(const ExitStatus& status) {
  if (!result_.is_null()) {  // the trial said how it ended
    if (!timed_out_ || result_.value("outcome", "") != to_string(Outcome::preempted))
      return result_;
    json r = result_;  // it stopped at the SIGTERM of its time limit
    r["outcome"] = to_string(Outcome::timeout);
    r["message"] = "stopped at " + time_limit_text() + " (SIGTERM); checkpointed at step " +
                   std::to_string(r.value("steps_done", 0)) + ", resumes from there";
    return r;
  }
  TrialResult r;
  const std::string log = process_ ? process_->log_tail() : "";
  if (timed_out_ && status.killed_by_us) {
    r.outcome = Outcome::timeout;
    r.message = "killed after " + time_limit_text() + ": still running " +
                std::to_string(static_cast<int>(kill_grace_s_)) +
                " s (execution.kill_grace_s) after SIGTERM; resumes from its last checkpoint";
  } else if (timed_out_) {
    r.outcome = Outcome::timeout;
    r.message = "stopped at " + time_limit_text() + " (SIGTERM), ended with " + status.describe() +
                " before reporting; resumes from its last checkpoint";
  } else if (!status.signaled && status.code == kTrialExecDiskFull && out_dir_has_no_space()) {
    r.outcome = Outcome::disk_full;
    r.message = describe_disk_full(out_dir_) + ": the trial process could not write its result";
  } else if (status.signaled && (status.signal == SIGTERM || status.signal == SIGINT)) {
    r.outcome = Outcome::preempted;
    r.message = "ended by " + status.describe() + " before reporting";
  } else if (status.signaled && status.signal == SIGKILL) {
    r.outcome = stopping_ ? Outcome::preempted : Outcome::crash;
    r.message = "killed by SIGKILL (the kernel's out-of-memory killer, or by hand)";
  } else {
    r.outcome = Outcome::crash;
    r.message = "trial process ended with " + status.describe() + " without a result";
  }
  if (!log.empty()) r.message += "; its log ends: " + log;
  return to_json(r);
}

std::vector<json> WorkerAgent::poll(int timeout_ms) {
  std::vector<json> out;
  if (setup_.stop && setup_.stop->load() && !stopping_) {
    stopping_ = true;
    stop_running();
  }
  if (inline_assign_) {
    TrialRunOptions options;
    options.attempt = inline_assign_->value("number", 1);
    options.stop = setup_.stop;
    TrialResult r;
    try {
      r = run_noop_trial(noop_config_from_json(inline_assign_->at("config")), options);
    } catch (const std::exception& e) {
      r.outcome = Outcome::error;
      r.message = e.what();
    }
    out.push_back(finish(to_json(r)));
  } else if (start_failure_) {
    out.push_back(finish(*start_failure_));
  } else if (process_) {
    json events = json::array();
    for (const auto& line : process_->read_lines(timeout_ms)) {
      json event = json::parse(line, nullptr, false);
      if (event.is_discarded() || !event.is_object()) continue;  // stray output is not ours
      if (event.value("event", "") == "result") {
        event.erase("event");
        result_ = event;
      } else if (event.value("event", "") == "start" &&
                 event.value("resumed_from", int64_t{0}) > 0) {
        for (auto& e : recorded_progress(out_dir_, number_, process_->events_start(),
                                         event["resumed_from"].get<int64_t>()))
          events.push_back(std::move(e));
        events.push_back(std::move(event));
      } else {
        events.push_back(std::move(event));
      }
    }
    if (!events.empty()) {
      out.push_back({{"type", protocol::kEvents}, {"attempt_id", attempt_id_}, {"events", events}});
      last_sent_ = Clock::now();
    }
    enforce_time_limit();
    if (stopping_ &&
        std::chrono::duration<double>(Clock::now() - stop_sent_).count() > setup_.stop_grace_s)
      process_->kill_hard();
    if (auto status = process_->poll_exit()) {
      for (const auto& line : process_->read_lines(0)) {  // what it wrote just before exiting
        json event = json::parse(line, nullptr, false);
        if (!event.is_discarded() && event.is_object() && event.value("event", "") == "result") {
          event.erase("event");
          result_ = event;
        }
      }
      out.push_back(finish(result_from_exit(*status)));
    }
  } else if (timeout_ms > 0) {
    std::this_thread::sleep_for(std::chrono::milliseconds(timeout_ms));
  }
  if (!done_ &&
      std::chrono::duration<double>(Clock::now() - last_sent_).count() >= setup_.heartbeat_s) {
    out.push_back({{"type", protocol::kHeartbeat}, {"attempt_id", attempt_id_}});
    last_sent_ = Clock::now();
  }
  if (!busy() && (stopping_ || shutdown_) && !done_) {
    out.push_back({{"type", protocol::kBye}});
    done_ = true;
  }
  return out;
}

}  // namespace locsweep
