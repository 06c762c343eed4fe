// A scripted, in-process Transport for testing the Coordinator without MPI (as libEnsemble
// tests its manager): each worker follows a WorkerScript (what it answers to its n-th
// assignment, how it reacts to stop, when it falls silent), on a FakeClock that the transport
// advances itself whenever the coordinator waits for a message with nothing due. A scenario
// of minutes of coordinator time (silence, stop grace) runs in milliseconds.
//
// Time only moves in receive(timeout_us > 0) with nothing due, and by at most kIdleStep: less
// than a heartbeat period, so that the coordinator's silence accounting (which forgives turns
// longer than protocol::kRankHeartbeatS) sees an attentive listener.
#pragma once

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cmath>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "orchestrator/protocol.hpp"
#include "orchestrator/transport.hpp"
#include "sweeps/trial_config.hpp"
#include "trial/trial_result.hpp"

namespace locsweep::test_support {

class FakeClock {
 public:
  using time_point = std::chrono::steady_clock::time_point;
  time_point now() const { return now_; }
  double seconds() const { return std::chrono::duration<double>(now_ - start_).count(); }
  void advance(double s) {
    now_ += std::chrono::duration_cast<std::chrono::steady_clock::duration>(
        std::chrono::duration<double>(s));
  }

 private:
  time_point start_ = std::chrono::steady_clock::time_point{} + std::chrono::hours(1);
  time_point now_ = start_;
};

// What a worker answers to one assignment.
struct Answer {
  Outcome outcome = Outcome::done;
  double after_s = 1;      // fake seconds from the assignment to its `finished`
  int checkpoint = 0;      // > 0: an events message with a checkpoint at this step, half-way
  int resumed_from = 0;    // the result's resumed_from
  bool mute = false;       // no heartbeats from the assignment until the answer is delivered
  bool never = false;      // never answers, and falls silent for good
  bool duplicate = false;  // sends its `finished` twice
};

enum class OnStop {
  checkpoint,  // the running trial reports preempted half a second later, then bye
  ignore,      // keeps heartbeating, never reports (the stop grace runs out)
};

struct WorkerScript {
  std::vector<Answer> answers;  // to the 1st, 2nd, ... assignment; later ones: done after 1 s
  OnStop on_stop = OnStop::checkpoint;
  bool silent_after_ready = false;  // says ready, then nothing ever again
};

class FakeTransport : public Transport {
 public:
  static constexpr double kIdleStep = 0.1;      // fake seconds per idle wait, at most
  static constexpr double kHeartbeat = 1.0;     // protocol::kRankHeartbeatS
  static constexpr double kGiveUpAfter = 3600;  // a scenario that runs longer is stuck

  FakeTransport(FakeClock& clock, std::vector<WorkerScript> scripts)
      : clock_(clock), scripts_(std::move(scripts)), state_(scripts_.size()) {
    for (size_t w = 0; w < scripts_.size(); ++w) {
      protocol::Ready ready;
      ready.host = "fake";
      ready.pid = 1000 + static_cast<int64_t>(w);
      ready.device = "cpu";
      ready.threads = 1;
      deliver(static_cast<int>(w), 0, protocol::to_json(ready));
    }
  }

  // A hook run once in receive() at fake time `at_s` or later, when `when()` allows (e.g. no
  // write transaction open).
  void at(double at_s, std::function<void()> hook, std::function<bool()> when = {}) {
    hooks_.push_back({at_s, std::move(hook), std::move(when), false});
  }

  int worker_count() const override { return static_cast<int>(scripts_.size()); }

  void send(int w, const nlohmann::json& message) override {
    EXPECT_FALSE(given_up_.count(w)) << "sent to a lost worker: " << message.dump();
    sent_[w].push_back(message.at("type").get<std::string>());
    // The rank side decodes what it gets, as RankAgent does: a malformed message fails here.
    std::visit(protocol::overloaded{[&](const protocol::Assign& a) { on_assign(w, a); },
                                    [&](const protocol::Stop&) { on_stop(w); },
                                    [&](const protocol::Shutdown&) { say_bye(w, 0.05); },
                                    [&](const protocol::Abandon&) { state(w).dead = true; }},
               protocol::decode_from_coordinator(message));
  }

  std::optional<std::pair<int, nlohmann::json>> receive(int timeout_us) override {
    run_hooks();
    beat();
    if (auto m = pop_due()) return m;
    if (timeout_us <= 0) return std::nullopt;
    if (clock_.seconds() > kGiveUpAfter)
      throw std::runtime_error("fake transport: scenario still running after an hour");
    double step = kIdleStep;
    for (const auto& q : queue_) step = std::min(step, std::max(1e-6, q.due - clock_.seconds()));
    clock_.advance(step);
    return std::nullopt;
  }

  void abort_all(int) override { aborted_ = true; }
  void give_up_on(int w) override { given_up_.insert(w); }
  int lost_workers() const override { return static_cast<int>(given_up_.size()); }

  // What the test reads afterwards.
  std::map<int, std::vector<std::string>> sent_;  // message types, per worker
  std::set<int> given_up_;
  std::vector<std::string> assigned_;  // trial hashes in the order they were assigned
  std::map<std::string, nlohmann::json> assigned_config_;  // the config each trial was sent
  std::map<std::string, int> received_;  // messages handed to the coordinator, per type
  bool aborted_ = false;

 private:
  struct Queued {
    double due;
    int worker;
    nlohmann::json message;
    int64_t attempt_id;  // of a finished/events message; -1 otherwise
  };
  struct State {
    size_t assignments = 0;
    int64_t attempt_id = -1;
    bool mute = false, dead = false, bye = false;
    double last_sent = 0;
  };
  struct Hook {
    double at_s;
    std::function<void()> run;
    std::function<bool()> when;
    bool done;
  };

  State& state(int w) { return state_.at(static_cast<size_t>(w)); }

  void deliver(int w, double after_s, nlohmann::json message, int64_t attempt_id = -1) {
    queue_.push_back({clock_.seconds() + after_s, w, std::move(message), attempt_id});
  }

  void on_assign(int w, const protocol::Assign& a) {
    State& s = state(w);
    const WorkerScript& script = scripts_.at(static_cast<size_t>(w));
    const Answer answer =
        s.assignments < script.answers.size() ? script.answers[s.assignments] : Answer{};
    ++s.assignments;
    s.attempt_id = a.attempt_id;
    assigned_.push_back(a.hash);
    assigned_config_[a.hash] = a.config;
    if (script.silent_after_ready) return;
    if (answer.never) {
      s.mute = true;
      return;
    }
    s.mute = answer.mute;
    if (answer.checkpoint > 0)
      deliver(w, answer.after_s / 2,
              protocol::to_json(protocol::Events{
                  a.attempt_id, {{{"event", "checkpoint"}, {"step", answer.checkpoint}}}}),
              a.attempt_id);
    TrialResult r;
    r.outcome = answer.outcome;
    r.message =
        answer.outcome == Outcome::done ? "" : "scripted " + std::string(to_string(r.outcome));
    r.resumed_from = answer.resumed_from;
    r.steps_done = std::max(answer.checkpoint, answer.resumed_from);
    if (r.outcome == Outcome::done) report_noop_loss(a.config, r);
    const nlohmann::json finished = protocol::to_json(protocol::Finished{a.attempt_id, r});
    deliver(w, answer.after_s, finished, a.attempt_id);
    if (answer.duplicate) deliver(w, answer.after_s + 0.01, finished, a.attempt_id);
  }

  // A done noop trial with a synthetic loss (noop.loss) reports it, as the noop kind does.
  static void report_noop_loss(const nlohmann::json& config, TrialResult& r) {
    const nlohmann::json noop = config.value("noop", nlohmann::json::object());
    if (!noop.contains("loss") || noop["loss"].value("key", "").empty()) return;
    if (const auto loss = noop_synthetic_loss(trial_config_from_json(config))) {
      r.val_loss = *loss;
      r.val_ppl = std::exp(*loss);
      r.val_tokens = 1;
    }
  }

  void on_stop(int w) {
    State& s = state(w);
    if (scripts_.at(static_cast<size_t>(w)).on_stop == OnStop::ignore || s.mute) return;
    if (s.attempt_id >= 0) {
      // What it was going to report is replaced by the interruption.
      std::erase_if(queue_, [&](const Queued& q) { return q.attempt_id == s.attempt_id; });
      TrialResult r;
      r.outcome = Outcome::preempted;
      r.message = "stopped by a signal";
      deliver(w, 0.5, protocol::to_json(protocol::Finished{s.attempt_id, r}), s.attempt_id);
    }
    say_bye(w, 0.6);
  }

  void say_bye(int w, double after_s) {
    if (state(w).bye || scripts_.at(static_cast<size_t>(w)).silent_after_ready) return;
    state(w).bye = true;
    deliver(w, after_s, protocol::to_json(protocol::Bye{}));
  }

  void run_hooks() {
    for (auto& h : hooks_)
      if (!h.done && clock_.seconds() >= h.at_s && (!h.when || h.when())) {
        h.done = true;
        h.run();
      }
  }

  // Every worker that is neither silent nor gone heartbeats each kHeartbeat it sent nothing.
  void beat() {
    for (size_t w = 0; w < state_.size(); ++w) {
      State& s = state_[w];
      if (s.mute || s.dead || s.bye || scripts_[w].silent_after_ready) continue;
      if (clock_.seconds() - s.last_sent < kHeartbeat) continue;
      queue_.push_back({clock_.seconds(), static_cast<int>(w),
                        protocol::to_json(protocol::Heartbeat{s.attempt_id}), -1});
      s.last_sent = clock_.seconds();
    }
  }

  std::optional<std::pair<int, nlohmann::json>> pop_due() {
    auto best = queue_.end();
    for (auto it = queue_.begin(); it != queue_.end(); ++it)
      if (it->due <= clock_.seconds() && (best == queue_.end() || it->due < best->due)) best = it;
    if (best == queue_.end()) return std::nullopt;
    State& s = state(best->worker);
    if (best->message.at("type") == protocol::Finished::kType && best->attempt_id == s.attempt_id) {
      s.attempt_id = -1;
      s.mute = false;
    }
    auto out = std::make_pair(best->worker, std::move(best->message));
    ++received_[out.second.at("type").get<std::string>()];
    s.last_sent = clock_.seconds();
    queue_.erase(best);
    return out;
  }

  FakeClock& clock_;
  std::vector<WorkerScript> scripts_;
  std::vector<State> state_;
  std::vector<Queued> queue_;
  std::vector<Hook> hooks_;
};

}  // namespace locsweep::test_support
