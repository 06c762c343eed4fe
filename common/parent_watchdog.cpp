#include "common/parent_watchdog.hpp"

#include <poll.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>

#include "common/error.hpp"

namespace locsweep {

namespace {

// Waits up to timeout_ms (-1: forever) for `fd` (if valid) or `quit` to become readable;
// true if quit did.
bool wait_readable(int fd, int quit, int timeout_ms) {
  pollfd fds[2] = {{quit, POLLIN, 0}, {fd, POLLIN, 0}};
  for (;;) {
    const int n = ::poll(fds, fd >= 0 ? 2 : 1, timeout_ms);
    if (n < 0 && errno == EINTR) continue;
    return n > 0 && (fds[0].revents & POLLIN);
  }
}

[[noreturn]] void kill_own_group() {
  // Our own group when we lead it (a trial child does), else only ourselves.
  ::kill(::getpgrp() == ::getpid() ? 0 : ::getpid(), SIGKILL);
  ::_exit(137);
}

}  // namespace

ParentWatchdog::ParentWatchdog(pid_t parent, double grace_s)
    : quit_(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) {
  if (!quit_.valid()) throw Error("eventfd failed");
  ::prctl(PR_SET_PDEATHSIG, SIGTERM);
  if (::getppid() != parent) ::raise(SIGTERM);  // it died before prctl
  thread_ = std::thread([this, parent, grace_s] { watch(parent, grace_s); });
}

ParentWatchdog::~ParentWatchdog() {
  const uint64_t one = 1;
  (void)!::write(quit_.get(), &one, sizeof one);
  if (thread_.joinable()) thread_.join();
}

void ParentWatchdog::watch(pid_t parent, double grace_s) {
  // The parent's pidfd, checked to be our parent after opening (so not a recycled pid).
  Fd pidfd(static_cast<int>(::syscall(SYS_pidfd_open, parent, 0)));
  if (pidfd.valid() && ::getppid() != parent) pidfd.reset();
  if (pidfd.valid()) {
    if (wait_readable(pidfd.get(), quit_.get(), -1)) return;
  } else {
    // No pidfd (old kernel) or the parent is gone already: look at getppid() twice a second.
    while (::getppid() == parent)
      if (wait_readable(-1, quit_.get(), 500)) return;
  }
  const int grace_ms = static_cast<int>(std::max(0.0, grace_s) * 1000);
  if (wait_readable(-1, quit_.get(), grace_ms)) return;  // ended in time
  kill_own_group();
}

}  // namespace locsweep
