#include "trial/trial_process.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/inotify.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <deque>
#include <fstream>
#include <map>

#include "common/error.hpp"
#include "trial/child_protocol.hpp"

extern char** environ;

namespace locsweep {

nlohmann::json recorded_progress(const std::filesystem::path& out_dir, int number, uintmax_t limit,
                                 int64_t up_to) {
  std::map<std::pair<int64_t, std::string>, nlohmann::json> latest;
  for (int n = 1; n <= number; ++n) {
    std::ifstream in(attempt_events_file(out_dir, n), std::ios::binary);
    if (!in) continue;
    uintmax_t read = 0;
    for (std::string line; std::getline(in, line);) {
      read += line.size() + 1;
      if (n == number && read > limit) break;
      nlohmann::json e = nlohmann::json::parse(line, nullptr, false);
      if (e.is_discarded() || !e.is_object()) continue;
      const std::string kind = e.value("event", "");
      const int64_t step = e.value("step", int64_t{0});
      if ((kind != "step" && kind != "eval") || step < 1 || step > up_to) continue;
      e["replayed"] = true;
      latest[{step, kind}] = std::move(e);
    }
  }
  nlohmann::json out = nlohmann::json::array();
  for (auto& [key, e] : latest) out.push_back(std::move(e));
  return out;
}

TrialProcess TrialProcess::spawn(const std::vector<std::string>& argv,
                                 const std::filesystem::path& log_path,
                                 const std::filesystem::path& events_path) {
  // Read side first, at the file's current end: what the new child appends is what we read.
  Fd out_fd(::open(events_path.c_str(), O_RDONLY | O_CREAT | O_CLOEXEC | O_NONBLOCK, 0644));
  if (!out_fd.valid())
    throw Error("cannot open '" + events_path.string() + "': " + std::strerror(errno));
  const off_t start = ::lseek(out_fd.get(), 0, SEEK_END);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, events_path.c_str(),
                                   O_WRONLY | O_CREAT | O_APPEND, 0644);
  posix_spawn_file_actions_addopen(&actions, STDERR_FILENO, log_path.c_str(),
                                   O_WRONLY | O_CREAT | O_APPEND, 0644);
  posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  posix_spawnattr_setpgroup(&attr, 0);  // its own group: signals reach the whole trial
  sigset_t defaults;
  sigemptyset(&defaults);
  for (int s : {SIGTERM, SIGINT, SIGUSR1, SIGPIPE}) sigaddset(&defaults, s);
  posix_spawnattr_setsigdefault(&attr, &defaults);
  // Stop signals blocked until the child has installed its handlers (trial-exec unblocks
  // them): a time limit or a stop that arrives while it is still loading stays pending
  // instead of killing it by the default action.
  posix_spawnattr_setsigmask(&attr, &defaults);
  posix_spawnattr_setflags(&attr,
                           POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK);

  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  pid_t pid = -1;
  const int rc = posix_spawn(&pid, args[0], &actions, &attr, args.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attr);
  if (rc != 0) throw Error("cannot start '" + argv[0] + "': " + std::strerror(rc));
  TrialProcess process(pid, std::move(out_fd), start < 0 ? 0 : static_cast<uintmax_t>(start),
                       log_path);
  // Wake-ups without polling: the child's exit (pidfd) and its writes (inotify). Either may be
  // missing (old kernel, a file system without inotify): read_lines() then naps briefly.
  process.pid_fd_ = Fd(static_cast<int>(::syscall(SYS_pidfd_open, pid, 0)));
  process.notify_fd_ = Fd(::inotify_init1(IN_NONBLOCK | IN_CLOEXEC));
  if (process.notify_fd_.valid() &&
      ::inotify_add_watch(process.notify_fd_.get(), events_path.c_str(), IN_MODIFY) < 0)
    process.notify_fd_.reset();
  return process;
}

TrialProcess::TrialProcess(pid_t pid, Fd out_fd, uintmax_t events_start, std::filesystem::path log)
    : pid_(pid), out_fd_(std::move(out_fd)), events_start_(events_start), log_(std::move(log)) {}

TrialProcess::TrialProcess(TrialProcess&& o) noexcept
    : pid_(o.pid_),
      out_fd_(std::move(o.out_fd_)),
      pid_fd_(std::move(o.pid_fd_)),
      notify_fd_(std::move(o.notify_fd_)),
      events_start_(o.events_start_),
      log_(std::move(o.log_)),
      partial_(std::move(o.partial_)),
      reaped_(o.reaped_),
      killed_by_us_(o.killed_by_us_) {
  o.pid_ = -1;
  o.reaped_ = true;
}

TrialProcess::~TrialProcess() {
  if (pid_ > 0 && !reaped_) {
    ::kill(-pid_, SIGKILL);
    ::waitpid(pid_, nullptr, 0);
  }
}

void TrialProcess::take_lines(std::vector<std::string>& lines) {
  char buffer[1 << 16];
  for (ssize_t n; (n = ::read(out_fd_.get(), buffer, sizeof buffer)) > 0;)
    partial_.append(buffer, static_cast<size_t>(n));
  size_t start = 0;
  for (size_t nl; (nl = partial_.find('\n', start)) != std::string::npos; start = nl + 1)
    lines.push_back(partial_.substr(start, nl - start));
  partial_.erase(0, start);
  if (reaped_ && !partial_.empty()) {  // it will write no more: an unterminated last line counts
    lines.push_back(std::move(partial_));
    partial_.clear();
  }
}

std::vector<std::string> TrialProcess::read_lines(int timeout_ms) {
  std::vector<std::string> lines;
  if (!out_fd_.valid()) return lines;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  int nap_ms = 1;
  for (;;) {
    if (notify_fd_.valid()) {  // drop pending notifications: everything written is read next
      char events[4096];
      while (::read(notify_fd_.get(), events, sizeof events) > 0) {
      }
    }
    take_lines(lines);
    const auto left =
        std::chrono::ceil<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (!lines.empty() || reaped_ || left.count() <= 0) return lines;
    // Sleep until the file grows or the child exits; without both wake-ups, nap briefly.
    pollfd fds[2] = {{pid_fd_.get(), POLLIN, 0}, {notify_fd_.get(), POLLIN, 0}};
    const bool wakes = pid_fd_.valid() && notify_fd_.valid();
    ::poll(
        fds, 2,
        wakes ? static_cast<int>(left.count()) : std::min(nap_ms, static_cast<int>(left.count())));
    if (fds[0].revents & POLLIN) {  // exited: what it wrote is complete
      take_lines(lines);
      return lines;
    }
    nap_ms = std::min(nap_ms * 2, 5);
  }
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
