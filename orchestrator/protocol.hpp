// Messages between the coordinator (rank 0) and worker ranks: JSON objects with a "type".
//
// worker -> coordinator
//   ready     {host, pid, device, threads, versions}      first message: "give me work"
//   events    {attempt_id, events: [progress events]}     worker/progress.hpp, in order
//   finished  {attempt_id, result: TrialResult}           also "give me more work"
//   heartbeat {attempt_id}                                while a trial runs quietly
//   bye       {}                                          last message before MPI_Finalize
// coordinator -> worker
//   assign    {attempt_id, hash, number, config, out_dir, timeout_s}
//   stop      {}   checkpoint the running trial, report it, then say bye (preemption)
//   shutdown  {}   no more work: say bye
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

}  // namespace locsweep::protocol
