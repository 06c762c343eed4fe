// A trial attempt running in a child process of a worker rank: containment for crashes,
// hangs and out-of-memory, and the guarantee that all of a trial's memory (GPU included)
// is returned when it ends (the argv, files and results: trial/child_protocol.hpp). The
// child's stdout, JSON lines (trial/progress.hpp), goes to an
// events file in the trial's folder that the worker tails: unlike a pipe, what the trial wrote
// before it checkpointed survives the death of the worker rank (kill -9 of the job), so a
// later attempt can replay the steps the results database never received. Its stderr goes
// to a log file next to it.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "common/fd.hpp"
#include "common/spawn.hpp"

namespace locsweep {

class TrialProcess {
 public:
  // Starts argv[0] with argv (ChildProcess::spawn) in its own process group, its stdout
  // appended to events_path (read from its current end on), SIGTERM, SIGINT, SIGUSR1 and
  // SIGPIPE at their defaults and blocked: the child unblocks them once it handles them.
  // Call it from the thread that lives as long as the child (common/parent_watchdog.hpp).
  // Throws Error if it cannot start.
  static TrialProcess spawn(const std::vector<std::string>& argv,
                            const std::filesystem::path& log_path,
                            const std::filesystem::path& events_path);
  TrialProcess(TrialProcess&& other) noexcept = default;
  TrialProcess& operator=(TrialProcess&&) = delete;
  TrialProcess(const TrialProcess&) = delete;
  ~TrialProcess() = default;  // SIGKILLs and reaps a child still running (ChildProcess)

  // Waits up to timeout_ms for output (returning early when the child exits); returns the
  // complete lines read so far, and once the child is reaped also an unterminated last line.
  std::vector<std::string> read_lines(int timeout_ms);
  // Reaps the child if it has exited (non-blocking). What it wrote stays readable.
  std::optional<ExitStatus> poll_exit();
  void signal(int sig);  // to the child's process group
  void kill_hard();      // SIGKILL, remembered as ours (timeouts)
  pid_t pid() const { return child_.pid(); }
  // Size of the events file when this child started: earlier attempts' output ends there.
  uintmax_t events_start() const { return events_start_; }
  // The last lines of the child's stderr log, for failure messages.
  std::string log_tail(size_t lines = 4) const;

 private:
  TrialProcess(ChildProcess child, Fd out_fd, uintmax_t events_start, std::filesystem::path log);
  void take_lines(std::vector<std::string>& lines);  // reads what is there, keeps a partial line
  ChildProcess child_;  // its own process group: signals reach the whole trial
  Fd out_fd_;           // the events file, read side
  Fd pid_fd_;           // readable once the child exits (invalid: kernel without pidfd_open)
  Fd notify_fd_;        // inotify on the events file: readable when it grows (invalid: none)
  uintmax_t events_start_ = 0;
  std::filesystem::path log_;
  std::string partial_;  // an incomplete last line
};

// The step and eval events up to step `up_to` that attempts 1..number of a trial wrote (the
// latest of each, marked "replayed"), attempt `number`'s file read only up to byte `limit`.
// A resumed attempt starts after its checkpoint, and the steps before it may never have
// reached the database (the job was killed before they were sent or committed): these are
// sent again, to be upserted.
nlohmann::json recorded_progress(const std::filesystem::path& out_dir, int number, uintmax_t limit,
                                 int64_t up_to);

}  // namespace locsweep
