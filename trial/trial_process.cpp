#include "trial/trial_process.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/inotify.h>
#include <sys/syscall.h>
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
  SpawnOptions options;
  options.in = Redirect::null();
  options.out = Redirect::append_to(events_path);
  options.err = Redirect::append_to(log_path);
  options.own_process_group = true;  // signals reach the whole trial
  options.default_signals = {SIGTERM, SIGINT, SIGUSR1, SIGPIPE};
  // Stop signals blocked until the child has installed its handlers (trial-exec unblocks
  // them): a time limit or a stop that arrives while it is still loading stays pending
  // instead of killing it by the default action.
  options.blocked_signals = options.default_signals;
  std::optional<ChildProcess> child = ChildProcess::spawn(argv, options);
  if (!child) throw Error("cannot start '" + argv[0] + "': " + std::strerror(ENOENT));
  const pid_t pid = child->pid();
  TrialProcess process(std::move(*child), std::move(out_fd),
                       start < 0 ? 0 : static_cast<uintmax_t>(start), log_path);
  // Wake-ups without polling: the child's exit (pidfd) and its writes (inotify). Either may be
  // missing (old kernel, a file system without inotify): read_lines() then naps briefly.
  process.pid_fd_ = Fd(static_cast<int>(::syscall(SYS_pidfd_open, pid, 0)));
  process.notify_fd_ = Fd(::inotify_init1(IN_NONBLOCK | IN_CLOEXEC));
  if (process.notify_fd_.valid() &&
      ::inotify_add_watch(process.notify_fd_.get(), events_path.c_str(), IN_MODIFY) < 0)
    process.notify_fd_.reset();
  return process;
}

TrialProcess::TrialProcess(ChildProcess child, Fd out_fd, uintmax_t events_start,
                           std::filesystem::path log)
    : child_(std::move(child)),
      out_fd_(std::move(out_fd)),
      events_start_(events_start),
      log_(std::move(log)) {}

void TrialProcess::take_lines(std::vector<std::string>& lines) {
  char buffer[1 << 16];
  for (ssize_t n; (n = ::read(out_fd_.get(), buffer, sizeof buffer)) > 0;)
    partial_.append(buffer, static_cast<size_t>(n));
  size_t start = 0;
  for (size_t nl; (nl = partial_.find('\n', start)) != std::string::npos; start = nl + 1)
    lines.push_back(partial_.substr(start, nl - start));
  partial_.erase(0, start);
  if (child_.reaped() &&
      !partial_.empty()) {  // it will write no more: an unterminated last line counts
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
    if (!lines.empty() || child_.reaped() || left.count() <= 0) return lines;
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
  return child_.poll();
}

void TrialProcess::signal(int sig) {
  child_.signal(sig);
}

void TrialProcess::kill_hard() {
  child_.signal(SIGKILL, true);
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
