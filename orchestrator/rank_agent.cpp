#include "orchestrator/rank_agent.hpp"

#include <signal.h>
#include <unistd.h>

#include <filesystem>
#include <thread>

#include "common/disk_space.hpp"
#include "common/files.hpp"
#include "orchestrator/protocol.hpp"
#include "sweeps/trial_config.hpp"
#include "trial/child_protocol.hpp"
#include "trial/noop_trial.hpp"

namespace locsweep {
namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;
using nlohmann::json;

namespace {

// The noop fields of a coordinator's config (to_json of a valid TrialConfig). The full
// trial_config_from_json goes through the YAML field table: ~75 % of an inline noop trial's
// cost in the orchestration benchmark, for three numbers.
TrialConfig noop_config_from_json(const json& config) {
  const json noop = config.value("noop", json::object());
  // A synthetic loss reads another key (noop.loss.key): the full parse.
  if (noop.contains("loss") && !noop["loss"].value("key", "").empty())
    return trial_config_from_json(config);
  TrialConfig c;
  c.kind = TrialKind::noop;
  c.seed = config.value("seed", 0);
  c.noop.duration_s = noop.value("duration_s", c.noop.duration_s);
  c.noop.fail = noop.value("fail", c.noop.fail);
  c.noop.fail_attempts = noop.value("fail_attempts", c.noop.fail_attempts);
  return c;
}

}  // namespace

bool RankAgent::out_dir_has_no_space() const {
  return is_disk_full(out_dir_, 1 << 20, 0);
}

RankAgent::RankAgent(RankSetup setup) : setup_(std::move(setup)), last_sent_(Clock::now()) {}

json RankAgent::ready_message() const {
  protocol::Ready ready;
  ready.host = setup_.host;
  ready.pid = static_cast<int64_t>(::getpid());
  ready.device = setup_.device;
  ready.threads = setup_.threads;
  ready.versions = setup_.versions.is_object() ? setup_.versions : json::object();
  return protocol::to_json(ready);
}

void RankAgent::on_message(const json& message) {
  std::visit(protocol::overloaded{[&](const protocol::Assign& assign) { start(assign); },
                                  [&](const protocol::Stop&) {
                                    stopping_ = true;
                                    stop_running();
                                  },
                                  [&](const protocol::Shutdown&) { shutdown_ = true; },
                                  [&](const protocol::Abandon&) { abandon(); }},
             protocol::decode_from_coordinator(message));
}

// The coordinator gave up on this rank (it was stopped or stalled) and runs its trial
// elsewhere: the trial dies at once, unreported, so two copies never share its folder.
void RankAgent::abandon() {
  process_.reset();  // SIGKILLs the process group and reaps it
  inline_assign_.reset();
  attempt_id_ = -1;
  shutdown_ = true;
}

void RankAgent::start(const protocol::Assign& assign) {
  attempt_id_ = assign.attempt_id;
  timeout_s_ = assign.timeout_s;
  kill_grace_s_ = assign.kill_grace_s;
  timed_out_ = false;
  started_ = last_sent_ = Clock::now();
  result_ = nullptr;
  const json& config = assign.config;
  if (setup_.inline_noop && config.value("kind", "") == "noop") {
    inline_assign_ = assign;
    return;
  }
  out_dir_ = assign.out_dir;
  number_ = assign.number;
  try {
    fs::create_directories(out_dir_);
    ChildRequest request;
    request.config_json = attempt_config_file(out_dir_, number_);
    request.out_dir = out_dir_;
    request.attempt = number_;
    request.device = setup_.device;
    request.threads = setup_.threads;
    request.parent_pid = ::getpid();
    request.kill_grace_s = kill_grace_s_;
    write_file_atomic(request.config_json, config.dump());
    process_.emplace(TrialProcess::spawn(child_argv(setup_.trainer, request),
                                         attempt_log_file(out_dir_, number_),
                                         attempt_events_file(out_dir_, number_)));
  } catch (const std::exception& e) {
    // Not even started (its folder's disk is full, a file system error): reported as the
    // attempt's end at the next poll; the worker goes on.
    TrialResult r;
    r.outcome = out_dir_has_no_space() ? Outcome::disk_full : Outcome::crash;
    r.message = (r.outcome == Outcome::disk_full ? describe_disk_full(out_dir_) + ": " : "") +
                "cannot start the trial process: " + e.what();
    start_failure_ = r;
  }
}

void RankAgent::stop_running() {
  if (process_) {
    process_->signal(SIGTERM);  // the trial checkpoints at its next step and reports preempted
    stop_sent_ = Clock::now();
  }
}

json RankAgent::finish(const TrialResult& result) {
  json message = protocol::to_json(protocol::Finished{attempt_id_, result});
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
void RankAgent::enforce_time_limit() {
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

TrialResult RankAgent::result_from_exit(const ExitStatus& status) {
  ChildEnd end;
  if (!result_.is_null()) end.result = result_;
  end.status = status;
  end.timed_out = timed_out_;
  end.stopping = stopping_;
  end.timeout_s = timeout_s_;
  end.kill_grace_s = kill_grace_s_;
  end.no_space = out_dir_has_no_space();
  if (end.no_space) end.disk_full_description = describe_disk_full(out_dir_);
  if (process_) end.log_tail = process_->log_tail();
  return protocol::readable_result(classify_child_end(end));
}

// The child's JSON lines: its result is kept for the attempt's end, the rest are progress
// events for the coordinator. A resumed attempt's start is preceded by the earlier attempts'
// steps up to its checkpoint, replayed from their events files.
void RankAgent::take_result_lines(const std::vector<std::string>& lines, json& events) {
  for (const auto& line : lines) {
    json event = json::parse(line, nullptr, false);
    if (event.is_discarded() || !event.is_object()) continue;  // stray output is not ours
    const std::string kind = event.value("event", "");
    if (kind == kEventResult) {
      event.erase("event");
      result_ = std::move(event);
      continue;
    }
    if (kind == kEventStart && event.value("resumed_from", int64_t{0}) > 0)
      for (auto& e : recorded_progress(out_dir_, number_, process_->events_start(),
                                       event["resumed_from"].get<int64_t>()))
        events.push_back(std::move(e));
    events.push_back(std::move(event));
  }
}

// The inline noop trial runs here, inside poll().
json RankAgent::run_inline_noop() {
  TrialRunOptions options;
  options.attempt = inline_assign_->number;
  options.stop = setup_.stop;
  TrialResult r;
  try {
    r = run_noop_trial(noop_config_from_json(inline_assign_->config), options);
  } catch (const std::exception& e) {
    r.outcome = Outcome::error;
    r.message = e.what();
  }
  return finish(r);
}

// Drives the child process for up to timeout_ms: its progress, its time limit, the stop
// grace, and its end (what it wrote just before exiting, then how it ended).
void RankAgent::drive_child(int timeout_ms, std::vector<json>& out) {
  json events = json::array();
  take_result_lines(process_->read_lines(timeout_ms), events);
  if (!events.empty()) {
    out.push_back(protocol::to_json(protocol::Events{attempt_id_, std::move(events)}));
    last_sent_ = Clock::now();
  }
  enforce_time_limit();
  if (stopping_ &&
      std::chrono::duration<double>(Clock::now() - stop_sent_).count() > setup_.stop_grace_s)
    process_->kill_hard();
  const auto status = process_->poll_exit();
  if (!status) return;
  json late = json::array();  // what it wrote just before exiting
  take_result_lines(process_->read_lines(0), late);
  if (!late.empty()) out.push_back(protocol::to_json(protocol::Events{attempt_id_, late}));
  out.push_back(finish(result_from_exit(*status)));
}

// A heartbeat when nothing else was sent for a period, and bye once idle after a stop or a
// shutdown.
void RankAgent::say_alive_or_bye(std::vector<json>& out) {
  if (!done_ &&
      std::chrono::duration<double>(Clock::now() - last_sent_).count() >= setup_.heartbeat_s) {
    out.push_back(protocol::to_json(protocol::Heartbeat{attempt_id_}));
    last_sent_ = Clock::now();
  }
  if (!busy() && (stopping_ || shutdown_) && !done_) {
    out.push_back(protocol::to_json(protocol::Bye{}));
    done_ = true;
  }
}

std::vector<json> RankAgent::poll(int timeout_ms) {
  std::vector<json> out;
  if (setup_.stop && setup_.stop->load() && !stopping_) {
    stopping_ = true;
    stop_running();
  }
  if (inline_assign_) {
    out.push_back(run_inline_noop());
  } else if (start_failure_) {
    out.push_back(finish(*start_failure_));
  } else if (process_) {
    drive_child(timeout_ms, out);
  } else if (timeout_ms > 0) {
    std::this_thread::sleep_for(std::chrono::milliseconds(timeout_ms));
  }
  say_alive_or_bye(out);
  return out;
}

}  // namespace locsweep
