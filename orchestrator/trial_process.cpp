#include "orchestrator/trial_process.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <deque>
#include <fstream>

#include "common/error.hpp"

extern char** environ;

namespace locsweep {

std::string ExitStatus::describe() const {
  if (!signaled) return "exit code " + std::to_string(code);
  const char* name = sigabbrev_np(signal);
  return std::string("signal SIG") + (name ? name : std::to_string(signal).c_str());
}

std::string self_executable() {
  std::error_code ec;
  const auto path = std::filesystem::read_symlink("/proc/self/exe", ec);
  if (ec) throw Error("cannot find this executable (/proc/self/exe): " + ec.message());
  return path.string();
}

TrialProcess TrialProcess::spawn(const std::vector<std::string>& argv, const std::filesystem::path& log_path) {
  int pipe_fds[2];
  if (::pipe2(pipe_fds, O_CLOEXEC) != 0) throw Error(std::string("pipe failed: ") + std::strerror(errno));
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, pipe_fds[1], STDOUT_FILENO);
  posix_spawn_file_actions_addopen(&actions, STDERR_FILENO, log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
  posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  posix_spawnattr_setpgroup(&attr, 0);  // its own group: signals reach the whole trial
  sigset_t defaults;
  sigemptyset(&defaults);
  for (int s : {SIGTERM, SIGINT, SIGUSR1, SIGPIPE}) sigaddset(&defaults, s);
  posix_spawnattr_setsigdefault(&attr, &defaults);
  sigset_t none;
  sigemptyset(&none);
  posix_spawnattr_setsigmask(&attr, &none);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK);

  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  pid_t pid = -1;
  const int rc = posix_spawn(&pid, args[0], &actions, &attr, args.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attr);
  ::close(pipe_fds[1]);
  if (rc != 0) {
    ::close(pipe_fds[0]);
    throw Error("cannot start '" + argv[0] + "': " + std::strerror(rc));
  }
  ::fcntl(pipe_fds[0], F_SETFL, ::fcntl(pipe_fds[0], F_GETFL) | O_NONBLOCK);
  return TrialProcess(pid, pipe_fds[0], log_path);
}

TrialProcess::TrialProcess(TrialProcess&& o) noexcept
    : pid_(o.pid_), out_fd_(o.out_fd_), log_(std::move(o.log_)), partial_(std::move(o.partial_)),
      reaped_(o.reaped_), killed_by_us_(o.killed_by_us_) {
  o.pid_ = -1;
  o.out_fd_ = -1;
  o.reaped_ = true;
}

TrialProcess::~TrialProcess() {
  if (pid_ > 0 && !reaped_) {
    ::kill(-pid_, SIGKILL);
    ::waitpid(pid_, nullptr, 0);
  }
  if (out_fd_ >= 0) ::close(out_fd_);
}

std::vector<std::string> TrialProcess::read_lines(int timeout_ms) {
  std::vector<std::string> lines;
  if (out_fd_ < 0) return lines;
  pollfd pfd{out_fd_, POLLIN, 0};
  if (::poll(&pfd, 1, timeout_ms) <= 0) return lines;
  char buffer[1 << 16];
  for (;;) {
    const ssize_t n = ::read(out_fd_, buffer, sizeof buffer);
    if (n > 0) {
      partial_.append(buffer, static_cast<size_t>(n));
      continue;
    }
    if (n == 0) {  // end of output: the child closed stdout (exited)
      ::close(out_fd_);
      out_fd_ = -1;
    }
    break;  // EAGAIN: nothing more for now
  }
  size_t start = 0;
  for (size_t nl; (nl = partial_.find('\n', start)) != std::string::npos; start = nl + 1)
    lines.push_back(partial_.substr(start, nl - start));
  partial_.erase(0, start);
  if (out_fd_ < 0 && !partial_.empty()) lines.push_back(std::move(partial_)), partial_.clear();
  return lines;
}

std::optional<ExitStatus> TrialProcess::poll_exit() {
  if (reaped_) return std::nullopt;
  int status = 0;
  const pid_t r = ::waitpid(pid_, &status, WNOHANG);
  if (r != pid_) return std::nullopt;
  reaped_ = true;
  ExitStatus s;
  s.signaled = WIFSIGNALED(status);
  s.code = WIFEXITED(status) ? WEXITSTATUS(status) : 0;
  s.signal = s.signaled ? WTERMSIG(status) : 0;
  s.killed_by_us = killed_by_us_;
  return s;
}

void TrialProcess::signal(int sig) {
  if (pid_ > 0 && !reaped_) ::kill(-pid_, sig);
}

void TrialProcess::kill_hard() {
  killed_by_us_ = true;
  signal(SIGKILL);
}

std::string TrialProcess::log_tail(size_t lines) const {
  std::ifstream in(log_);
  std::deque<std::string> tail;
  for (std::string line; std::getline(in, line);) {
    if (line.empty()) continue;
    tail.push_back(line);
    if (tail.size() > lines) tail.pop_front();
  }
  std::string out;
  for (const auto& l : tail) out += (out.empty() ? "" : " | ") + l;
  return out;
}

}  // namespace locsweep
