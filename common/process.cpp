#include "common/process.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <utility>

#include "common/error.hpp"
#include "common/fd.hpp"

namespace locsweep {
namespace {

using Clock = std::chrono::steady_clock;

struct Pipe {
  Fd read, write;
  Pipe() {
    int fds[2];
    if (::pipe2(fds, O_CLOEXEC) != 0) throw Error(std::string("pipe: ") + std::strerror(errno));
    read.reset(fds[0]);
    write.reset(fds[1]);
  }
};

Clock::time_point deadline_after(std::optional<double> timeout_s) {
  if (!timeout_s) return Clock::time_point::max();
  return Clock::now() +
         std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(*timeout_s));
}

// Stops a program still running at its time limit; what it printed so far is kept.
ProgramResult timed_out(ChildProcess& child, ProgramResult result) {
  child.signal(SIGKILL, true);
  child.wait();
  result.ending = ProgramResult::Ending::timed_out;
  return result;
}

// Reads both pipes into out and err until the program closes them; false at the deadline.
bool drain(Fd& out_fd, Fd& err_fd, ProgramResult& result, ChildProcess& child,
           Clock::time_point deadline) {
  pollfd fds[2] = {{out_fd.get(), POLLIN, 0}, {err_fd.get(), POLLIN, 0}};
  std::string* sinks[2] = {&result.out, &result.err};
  int open_fds = 2;
  while (open_fds > 0) {
    int wait_ms = -1;
    if (deadline != Clock::time_point::max()) {
      const auto left =
          std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
      // It keeps its pipes open (or a child of it does): the caller stops it.
      if (left.count() <= 0) return false;
      wait_ms = static_cast<int>(left.count()) + 1;
    }
    const int ready = ::poll(fds, 2, wait_ms);
    if (ready < 0) {
      if (errno == EINTR) continue;
      const std::string why = std::strerror(errno);
      child.signal(SIGKILL, true);
      child.wait();
      throw Error("poll: " + why);
    }
    for (int i = 0; i < 2; ++i) {
      if (fds[i].fd < 0 || fds[i].revents == 0) continue;
      char buffer[4096];
      const ssize_t n = ::read(fds[i].fd, buffer, sizeof buffer);
      if (n > 0) {
        sinks[i]->append(buffer, static_cast<size_t>(n));
      } else if (n == 0 || errno != EINTR) {
        fds[i].fd = -1;  // EOF (or a read error): stop polling it
        --open_fds;
      }
    }
  }
  return true;
}

}  // namespace

ProgramResult run_program(const std::vector<std::string>& argv, std::optional<double> timeout_s) {
  if (argv.empty()) throw Error("run_program: no program given");
  Pipe out, err;
  SpawnOptions options;
  options.search_path = true;
  options.in = Redirect::null();
  options.out = Redirect::to_fd(out.write.get());
  options.err = Redirect::to_fd(err.write.get());
  std::optional<ChildProcess> child = ChildProcess::spawn(argv, options);
  ProgramResult result;
  if (!child) {
    result.ending = ProgramResult::Ending::not_found;
    return result;
  }
  out.write.reset();
  err.write.reset();
  const auto deadline = deadline_after(timeout_s);
  if (!drain(out.read, err.read, result, *child, deadline))
    return timed_out(*child, std::move(result));
  // Both pipes are closed: the program has ended, or closed them and goes on.
  while (timeout_s) {
    if (const auto status = child->poll()) {
      result.status = status->shell_code();
      return result;
    }
    if (Clock::now() >= deadline) return timed_out(*child, std::move(result));
    ::usleep(10000);
  }
  result.status = child->wait().shell_code();
  return result;
}

std::string trim(std::string s) {
  const size_t first = s.find_first_not_of(" \t\r\n");
  if (first == std::string::npos) return "";
  return s.substr(first, s.find_last_not_of(" \t\r\n") - first + 1);
}

}  // namespace locsweep
