// A worker rank's state machine (the MPI side; the trainer it starts is worker/): takes
// assignments, runs each attempt as a child process of the trainer binary
// (`locsweep-trainer trial-exec`, trial/child_protocol.hpp), enforces its hard timeout (SIGTERM:
// checkpoint; SIGKILL after execution.kill_grace_s), streams its progress and reports how it ended,
// and sends a heartbeat every protocol::kRankHeartbeatS that it has nothing else to send, idle or
// busy (rank liveness never depends on trial progress; poll() must be called at least that often,
// and never blocks longer than its timeout — except an inline noop trial, which runs inside
// poll()). The child ends with this process whatever it ignores (common/parent_watchdog.hpp):
// drive the agent from the thread that lives longest, the main one. A resumed attempt's stream
// begins with the earlier attempts' steps up to its checkpoint (from their events files), so the
// database gets every step even when a killed job never sent or committed them. Transport-free:
// the MPI loop (or the single-process mode) feeds it messages and sends what poll() returns.
#pragma once

#include <atomic>
#include <chrono>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "orchestrator/protocol.hpp"
#include "trial/trial_process.hpp"

namespace locsweep {

struct RankSetup {
  int rank = 1;
  std::string host;
  std::string device = "cpu";
  int threads = 1;
  std::string trainer;       // the trainer binary (trial/child_protocol.hpp: trainer_executable)
  nlohmann::json versions;   // what the trainer computes with (TrainerInfo::versions)
  bool inline_noop = false;  // run noop trials in this process (orchestration benchmarks)
  double heartbeat_s = protocol::kRankHeartbeatS;
  double stop_grace_s = 120.0;  // after a stop, SIGKILL a trial that has not checkpointed
  const std::atomic<bool>* stop = nullptr;  // this process's stop signal
};

class RankAgent {
 public:
  explicit RankAgent(RankSetup setup);
  // The first message to the coordinator (protocol::Ready).
  nlohmann::json ready_message() const;
  // A message from the coordinator; ProtocolError if it is not one (orchestrator/protocol.hpp).
  void on_message(const nlohmann::json& message);
  // Drives the running attempt for up to timeout_ms; returns messages for the coordinator.
  std::vector<nlohmann::json> poll(int timeout_ms);
  bool busy() const { return attempt_id_ >= 0; }
  bool done() const { return done_; }

 private:
  void start(const protocol::Assign& assign);
  nlohmann::json finish(const TrialResult& result);  // the attempt's `finished` message
  TrialResult result_from_exit(const ExitStatus& status);
  nlohmann::json run_inline_noop();
  void drive_child(int timeout_ms, std::vector<nlohmann::json>& out);
  void say_alive_or_bye(std::vector<nlohmann::json>& out);
  void take_result_lines(const std::vector<std::string>& lines, nlohmann::json& events);
  void stop_running();
  void abandon();
  void enforce_time_limit();
  bool out_dir_has_no_space() const;

  RankSetup setup_;
  std::optional<TrialProcess> process_;
  std::optional<protocol::Assign> inline_assign_;
  std::optional<TrialResult> start_failure_;  // the result of an attempt that could not start
  std::filesystem::path out_dir_;             // of the running attempt
  int number_ = 0;                            // its attempt number
  int64_t attempt_id_ = -1;
  nlohmann::json result_;  // the child's result event, once seen
  double timeout_s_ = 0;
  double kill_grace_s_ = 0;  // from its time limit's SIGTERM to SIGKILL (set per attempt)
  bool timed_out_ = false;   // SIGTERM sent at the time limit
  std::chrono::steady_clock::time_point started_, last_sent_, stop_sent_, term_sent_;
  bool stopping_ = false;  // a stop arrived: no new work, say bye when idle
  bool shutdown_ = false;  // no more work: say bye when idle
  bool done_ = false;
};

}  // namespace locsweep
