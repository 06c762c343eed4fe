// Ties a child process's life to its parent's, whatever the child is doing: a trial child
// must never outlive the worker rank (or one-process coordinator) that started it, or a
// rerun would find a second copy of the trial working in the same folder.
//
// At the parent's death the child gets SIGTERM (PR_SET_PDEATHSIG; a trial checkpoints at its
// next step and exits), and a watchdog thread, waiting on the parent's pidfd, SIGKILLs the
// child's process group grace_s later if it is still there (a hung step, SIGTERM ignored).
// PR_SET_PDEATHSIG fires when the parent *thread* that started the child exits: start trial
// children from a thread that lives as long as they do (the worker's main thread).
#pragma once

#include <sys/types.h>

#include <thread>

#include "common/fd.hpp"

namespace locsweep {

class ParentWatchdog {
 public:
  // Watches `parent`, which must be this process's parent; if it has died already, the
  // SIGTERM comes at once and the grace starts now.
  ParentWatchdog(pid_t parent, double grace_s);
  ~ParentWatchdog();  // stops watching (the child ends normally)
  ParentWatchdog(const ParentWatchdog&) = delete;
  ParentWatchdog& operator=(const ParentWatchdog&) = delete;

 private:
  void watch(pid_t parent, double grace_s);
  Fd quit_;  // eventfd: readable when the destructor runs
  std::thread thread_;
};

}  // namespace locsweep
