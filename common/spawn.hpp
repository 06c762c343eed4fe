// Starting child processes: the one place locsweep calls posix_spawn. Helper programs
// (common/process.hpp run_program), trial children (trial/trial_process.hpp) and mpirun
// (`locsweep demo`) all start through ChildProcess::spawn, with SpawnOptions saying where
// the child's standard streams go, whether it leads its own process group, which signals it
// starts with at their defaults or blocked, and which environment variables it gets.
#pragma once

#include <sys/types.h>

#include <filesystem>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace locsweep {

// Where one of the child's standard streams goes.
struct Redirect {
  enum class Kind {
    inherit,      // the parent's
    null,         // /dev/null
    read_file,    // a file opened for reading (stdin)
    append_file,  // a file opened for appending, created if absent (stdout, stderr)
    fd,           // a descriptor of the parent, e.g. a pipe's write end
  };
  Kind kind = Kind::inherit;
  std::filesystem::path path;  // read_file, append_file
  int fd = -1;                 // fd: duplicated onto the stream; the parent keeps its own

  static Redirect inherit() { return {}; }
  static Redirect null() { return {Kind::null, {}, -1}; }
  static Redirect read_from(std::filesystem::path file) {
    return {Kind::read_file, std::move(file), -1};
  }
  static Redirect append_to(std::filesystem::path file) {
    return {Kind::append_file, std::move(file), -1};
  }
  static Redirect to_fd(int descriptor) { return {Kind::fd, {}, descriptor}; }
};

struct SpawnOptions {
  Redirect in, out, err;             // default: all inherited
  bool search_path = false;          // look argv[0] up on PATH (else it is a path)
  bool own_process_group = false;    // lead a new process group: signal() reaches its children
  std::vector<int> default_signals;  // reset to SIG_DFL in the child (ignored ones too)
  // The child's signal mask; nothing: the parent's. Signals blocked here stay pending in the
  // child until it unblocks them (e.g. once it has installed its handlers).
  std::optional<std::vector<int>> blocked_signals;
  // Variables set (or replaced) on top of the parent's environment.
  std::vector<std::pair<std::string, std::string>> environment;
};

// How a child process ended, from waitpid.
struct ExitStatus {
  bool signaled = false;  // killed by a signal (else exited)
  int code = 0;           // exit code
  int signal = 0;         // signal number
  bool killed_by_us = false;
  std::string describe() const;  // "exit code 3" / "signal SIGSEGV"
  int shell_code() const { return signaled ? 128 + signal : code; }  // as a shell reports it
};

// A started child, reaped (SIGKILLed first if still running) when it goes out of scope.
class ChildProcess {
 public:
  // Starts argv[0] with argv. Returns nothing when the program does not exist (not on PATH,
  // or no such file); throws Error when it cannot be started for another reason.
  static std::optional<ChildProcess> spawn(const std::vector<std::string>& argv,
                                           const SpawnOptions& options = {});
  ChildProcess(ChildProcess&& other) noexcept;
  ChildProcess& operator=(ChildProcess&&) = delete;
  ChildProcess(const ChildProcess&) = delete;
  ~ChildProcess();

  pid_t pid() const { return pid_; }
  bool reaped() const { return reaped_; }
  // Reaps the child if it has ended (non-blocking); nothing while it runs or once reaped.
  std::optional<ExitStatus> poll();
  // Waits for the child to end and reaps it (its status again if already reaped).
  ExitStatus wait();
  // Sends `sig` to the child, or to its whole process group when it leads one; nothing once
  // reaped. `ours` marks the ending as killed_by_us (timeouts).
  void signal(int sig, bool ours = false);

 private:
  ChildProcess(pid_t pid, bool group) : pid_(pid), group_(group) {}
  ExitStatus reap(int wait_status);
  pid_t pid_ = -1;
  bool group_ = false;
  bool reaped_ = false;
  bool killed_by_us_ = false;
  ExitStatus status_;
};

// Path of the running executable (/proc/self/exe).
std::string self_executable();

}  // namespace locsweep
