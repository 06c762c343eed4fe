// A trial attempt running in a child process of a worker rank: containment for crashes,
// hangs and out-of-memory, and the guarantee that all of a trial's memory (GPU included)
// is returned when it ends. The child's stdout is a pipe of JSON lines (worker/progress.hpp);
// its stderr goes to a log file in the trial's folder.
#pragma once

#include <sys/types.h>

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace locsweep {

struct ExitStatus {
  bool signaled = false;  // killed by a signal (else exited)
  int code = 0;           // exit code
  int signal = 0;         // signal number
  bool killed_by_us = false;
  std::string describe() const;  // "exit code 3" / "signal SIGSEGV"
};

class TrialProcess {
 public:
  // Starts argv[0] with argv in its own process group. Throws Error if it cannot start.
  static TrialProcess spawn(const std::vector<std::string>& argv, const std::filesystem::path& log_path);
  TrialProcess(TrialProcess&& other) noexcept;
  TrialProcess& operator=(TrialProcess&&) = delete;
  TrialProcess(const TrialProcess&) = delete;
  ~TrialProcess();  // SIGKILLs and reaps a child still running

  // Waits up to timeout_ms for output; returns the complete lines read so far.
  std::vector<std::string> read_lines(int timeout_ms);
  // Reaps the child if it has exited (non-blocking). Output still in the pipe stays readable.
  std::optional<ExitStatus> poll_exit();
  void signal(int sig);  // to the child's process group
  void kill_hard();      // SIGKILL, remembered as ours (timeouts)
  pid_t pid() const { return pid_; }
  // The last lines of the child's stderr log, for failure messages.
  std::string log_tail(size_t lines = 4) const;

 private:
  TrialProcess(pid_t pid, int out_fd, std::filesystem::path log) : pid_(pid), out_fd_(out_fd), log_(std::move(log)) {}
  pid_t pid_ = -1;
  int out_fd_ = -1;
  std::filesystem::path log_;
  std::string partial_;  // an incomplete last line
  bool reaped_ = false;
  bool killed_by_us_ = false;
};

// Path of the running executable (/proc/self/exe), to start `locsweep trial-exec`.
std::string self_executable();

}  // namespace locsweep
