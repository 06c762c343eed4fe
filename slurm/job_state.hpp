// The state of Slurm jobs as the client tools report them, for `locsweep status` and
// `locsweep cancel`. One query per tool for all the jobs asked about:
//   squeue -h -t all -j IDS -o '%i|%T|%M|%l|%R'   every job the controller still knows (any
//                                                  state, finished ones for MinJobAge)
//   scontrol show job -o                           Restarts= and ExitCode= of those jobs
//   sacct -n -P -X -D -j IDS -o ...                jobs the controller has forgotten (slurmdbd);
//   sacct -c ...                                   without slurmdbd: the jobcomp file
// A tool that is missing, fails or does not answer within the time limit leaves the state
// unknown, with a note saying why; nothing here throws for Slurm's sake.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace locsweep {

struct SlurmJobState {
  std::string job_id;
  std::string state;            // Slurm's word (RUNNING, PENDING, COMPLETED, ...); empty: unknown
  std::string source;           // "squeue" or "sacct"; empty when unknown
  std::string elapsed;          // run time of the current (or last) incarnation, e.g. "1:23"
  std::string time_limit;       // squeue's %l, e.g. "2:00"
  std::string reason;           // squeue's %R: the nodes while running, "(Reason)" while pending
  std::string exit_code;        // "75:0" (status:signal), when the tool says
  std::optional<int> restarts;  // times the job was requeued, when a tool says
  std::string note;             // why the state is unknown, e.g. "not in squeue"
  bool queue_answered = false;  // squeue ran and answered (so "not in squeue" is a fact)

  bool known() const { return !state.empty(); }
  // In the queue and not in a final state (pending, running, requeued, completing, ...).
  // Unknown states and those from accounting (the controller has forgotten the job) are not.
  bool active() const;
  // One line for people, e.g. "RUNNING 1:23 of 2:00 on node1, 1 restart" or
  // "unknown (not in squeue)".
  std::string describe() const;
};

// Whether Slurm's state word is final: COMPLETED, FAILED, CANCELLED, TIMEOUT, ... (a "CANCELLED
// by 0" from sacct counts by its first word).
bool is_final_job_state(std::string_view state);

// The states of `job_ids`, in that order. Each tool gets at most `timeout_s` seconds.
std::vector<SlurmJobState> query_job_states(const std::vector<std::string>& job_ids,
                                            double timeout_s = 10);

// ---- parsers of the tools' output (pure functions; the queries above use them)

// `squeue -h -o '%i|%T|%M|%l|%R'` lines: one state per line that has five fields.
std::vector<SlurmJobState> parse_squeue(std::string_view out);

// The value of `key` (e.g. "Restarts") in the line of `scontrol show job -o` output that
// belongs to `job_id` (JobId=<id>); nullopt when the job or the key is not there.
std::optional<std::string> scontrol_job_field(std::string_view out, std::string_view job_id,
                                              std::string_view key);

// `sacct -n -P -o JobID,State,ExitCode,Elapsed` for one job: its last record (the last
// incarnation; earlier ones are requeues, counted in `restarts`). Step lines ("ID.batch")
// and other jobs are skipped; nullopt when the job has no record.
std::optional<SlurmJobState> parse_sacct(std::string_view out, std::string_view job_id);

}  // namespace locsweep
