// Messages between the coordinator (rank 0) and worker ranks: JSON objects with a "type".
//
// worker -> coordinator
//   ready     {host, pid, device, threads, versions}      first message: "give me work"
//   events    {attempt_id, events: [progress events]}     trial/progress.hpp, in order
//   finished  {attempt_id, result: TrialResult}           also "give me more work"
//   heartbeat {attempt_id}                                every kRankHeartbeatS without other
//                                                         messages, idle (attempt_id -1) or busy
//   bye       {}                                          last message before MPI_Finalize
// coordinator -> worker
//   assign    {attempt_id, hash, number, config, out_dir, timeout_s}
//   stop      {}   checkpoint the running trial, report it, then say bye (preemption)
//   shutdown  {}   no more work: say bye
//   abandon   {}   you were declared lost and your trial runs elsewhere: kill it without
//                  reporting, then say bye (reaches a rank that was only stopped or stalled)
//
// Rank liveness does not depend on trial progress: a rank the coordinator has not heard from
// for --worker-silence seconds (any message counts) is lost, idle or busy.
#pragma once

namespace locsweep::protocol {

inline constexpr int kTag = 7;  // every message uses one MPI tag; the JSON says what it is

inline constexpr const char* kReady = "ready";
inline constexpr const char* kEvents = "events";
inline constexpr const char* kFinished = "finished";
inline constexpr const char* kHeartbeat = "heartbeat";
inline constexpr const char* kBye = "bye";
inline constexpr const char* kAssign = "assign";
inline constexpr const char* kStop = "stop";
inline constexpr const char* kShutdown = "shutdown";
inline constexpr const char* kAbandon = "abandon";

// Every worker rank sends something at least this often (seconds), idle or busy.
inline constexpr double kRankHeartbeatS = 1.0;
// The least --worker-silence accepted: this many heartbeat periods, so that a healthy rank
// on a loaded machine is never declared lost.
inline constexpr int kMinSilenceHeartbeats = 5;
inline constexpr double kMinWorkerSilenceS = kMinSilenceHeartbeats * kRankHeartbeatS;

}  // namespace locsweep::protocol
