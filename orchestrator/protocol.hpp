// Messages between the coordinator (rank 0) and worker ranks. On the wire (MPI, or the
// in-process transport) each is a JSON object with a "type"; in the code each is a struct
// below, encoded with to_json and decoded with decode_from_rank / decode_from_coordinator,
// here and nowhere else. Every field is required: a message with a field missing or of the
// wrong type is a ProtocolError naming the message type and the field.
//
// worker -> coordinator
//   ready     {host, pid, device, threads, versions}      first message: "give me work"
//   events    {attempt_id, events: [progress events]}     trial/progress.hpp, in order
//   finished  {attempt_id, result: TrialResult}           also "give me more work"
//   heartbeat {attempt_id}                                every kRankHeartbeatS without other
//                                                         messages, idle (attempt_id -1) or busy
//   bye       {}                                          last message before MPI_Finalize
// coordinator -> worker
//   assign    {attempt_id, hash, number, config, out_dir, timeout_s, kill_grace_s}
//   stop      {}   checkpoint the running trial, report it, then say bye (preemption)
//   shutdown  {}   no more work: say bye
//   abandon   {}   you were declared lost and your trial runs elsewhere: kill it without
//                  reporting, then say bye (reaches a rank that was only stopped or stalled)
//
// Rank liveness does not depend on trial progress: a rank the coordinator has not heard from
// for --worker-silence seconds (any message counts) is lost, idle or busy.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <variant>

#include "common/error.hpp"
#include "trial/trial_result.hpp"

namespace locsweep::protocol {

inline constexpr int kTag = 7;  // every message uses one MPI tag; the JSON says what it is

// Every worker rank sends something at least this often (seconds), idle or busy.
inline constexpr double kRankHeartbeatS = 1.0;
// The least --worker-silence accepted: this many heartbeat periods, so that a healthy rank
// on a loaded machine is never declared lost.
inline constexpr int kMinSilenceHeartbeats = 5;
inline constexpr double kMinWorkerSilenceS = kMinSilenceHeartbeats * kRankHeartbeatS;

// A message that is not what the protocol says (a bug on one side, not a user's input).
class ProtocolError : public Error {
 public:
  using Error::Error;
};

// worker -> coordinator
struct Ready {
  static constexpr const char* kType = "ready";
  std::string host;
  int64_t pid = 0;
  std::string device;
  int threads = 0;
  nlohmann::json versions = nlohmann::json::object();  // TrainerInfo::versions
};
struct Events {
  static constexpr const char* kType = "events";
  int64_t attempt_id = -1;
  nlohmann::json events = nlohmann::json::array();  // trial/progress.hpp events, in order
};
struct Finished {
  static constexpr const char* kType = "finished";
  int64_t attempt_id = -1;
  // Decoding never fails on the result itself: an unreadable one becomes a crash whose
  // message says why, so that the attempt is still closed.
  TrialResult result;
};
struct Heartbeat {
  static constexpr const char* kType = "heartbeat";
  int64_t attempt_id = -1;  // -1: idle
};
struct Bye {
  static constexpr const char* kType = "bye";
};

// coordinator -> worker
struct Assign {
  static constexpr const char* kType = "assign";
  int64_t attempt_id = -1;
  std::string hash;
  int number = 1;  // the attempt's number among the trial's attempts
  nlohmann::json config = nlohmann::json::object();  // to_json(TrialConfig)
  std::string out_dir;                               // the trial's folder
  double timeout_s = 0;                              // 0: no time limit
  double kill_grace_s = 0;                           // SIGTERM to SIGKILL at the time limit
};
struct Stop {
  static constexpr const char* kType = "stop";
};
struct Shutdown {
  static constexpr const char* kType = "shutdown";
};
struct Abandon {
  static constexpr const char* kType = "abandon";
};

using FromRank = std::variant<Ready, Events, Finished, Heartbeat, Bye>;
using FromCoordinator = std::variant<Assign, Stop, Shutdown, Abandon>;

nlohmann::json to_json(const Ready& m);
nlohmann::json to_json(const Events& m);
nlohmann::json to_json(const Finished& m);
nlohmann::json to_json(const Heartbeat& m);
nlohmann::json to_json(const Bye& m);
nlohmann::json to_json(const Assign& m);
nlohmann::json to_json(const Stop& m);
nlohmann::json to_json(const Shutdown& m);
nlohmann::json to_json(const Abandon& m);

// A TrialResult from its JSON, or, when that is unreadable, a crash whose message says why
// (an attempt always ends with a result).
TrialResult readable_result(const nlohmann::json& result);

// Throw ProtocolError for an unknown type or a missing or mistyped field.
FromRank decode_from_rank(const nlohmann::json& message);
FromCoordinator decode_from_coordinator(const nlohmann::json& message);

// For std::visit over the variants: overloaded{[](const Ready&) {...}, ...}.
template <class... Fs>
struct overloaded : Fs... {
  using Fs::operator()...;
};
template <class... Fs>
overloaded(Fs...) -> overloaded<Fs...>;

}  // namespace locsweep::protocol
