#include "trial/trial_child.hpp"

#include <fmt/format.h>
#include <signal.h>

#include <cstdio>
#include <new>
#include <optional>

#include "common/error.hpp"
#include "common/files.hpp"
#include "common/folder_lock.hpp"
#include "common/parent_watchdog.hpp"
#include "common/stop_signal.hpp"

namespace locsweep {
namespace {

// The rank starts the child with its stop signals blocked (trial/trial_process.hpp), so that
// one arriving while it loads stays pending; they are unblocked once handled.
void unblock_stop_signals() {
  sigset_t set;
  sigemptyset(&set);
  for (int s : {SIGINT, SIGTERM, SIGUSR1, SIGPIPE}) sigaddset(&set, s);
  ::sigprocmask(SIG_UNBLOCK, &set, nullptr);
}

TrialResult failure(Outcome outcome, std::string message) {
  TrialResult r;
  r.outcome = outcome;
  r.message = std::move(message);
  return r;
}

// Another attempt still in this folder (orphaned by a killed rank, checkpointing within its
// grace) is waited for: two processes never work on one trial at once.
FolderLock lock_trial_folder(const ChildRequest& q, ProgressSink& progress) {
  return FolderLock::acquire(q.out_dir, q.kill_grace_s + 30, [&](pid_t holder) {
    fmt::print(stderr, "waiting for pid {} (a previous attempt) to leave {}\n", holder,
               q.out_dir.string());
    progress.event(
        {{"event", "warning"},
         {"message",
          fmt::format("waiting for pid {} (a previous attempt of this trial) to end", holder)}});
  });
}

TrialResult run_attempt(const ChildRequest& q, const TrialRunner& run, ProgressSink& progress,
                        const std::atomic<bool>& stop, std::optional<FolderLock>& lock) {
  try {
    lock.emplace(lock_trial_folder(q, progress));
    const TrialConfig config =
        trial_config_from_json(nlohmann::json::parse(read_file(q.config_json)));
    TrialRunOptions options;
    options.out_dir = q.out_dir;
    options.resume = q.resume ? TrialRunOptions::Resume::if_valid : TrialRunOptions::Resume::never;
    options.device = q.device;
    options.threads = q.threads;
    options.attempt = q.attempt;
    options.progress = &progress;
    options.stop = &stop;
    options.parent_pid = q.parent_pid;
    return run(config, options);
  } catch (const FolderBusyError& e) {
    return failure(Outcome::crash, e.what());  // retried: the other process has ended by then
  } catch (const std::bad_alloc&) {
    return failure(Outcome::oom, "out of memory (std::bad_alloc)");
  } catch (const std::exception& e) {
    return failure(Outcome::error, e.what());
  }
}

}  // namespace

int run_trial_child(const ChildRequest& q, const TrialRunner& run) {
  // Never die of SIGPIPE while checkpointing because nobody reads our output any more.
  ::signal(SIGPIPE, SIG_IGN);
  JsonLinesProgress progress(stdout);
  const auto& stop = install_stop_signals({SIGINT, SIGTERM, SIGUSR1});
  unblock_stop_signals();
  // If the rank dies (kill -9 of the job), checkpoint and stop rather than linger; still here
  // kill_grace_s later (a hung step), the watchdog SIGKILLs us.
  std::optional<ParentWatchdog> watchdog;
  if (q.parent_pid > 0) watchdog.emplace(q.parent_pid, q.kill_grace_s);
  std::optional<FolderLock> lock;  // held until this process ends
  const TrialResult result = run_attempt(q, run, progress, stop, lock);
  nlohmann::json event = to_json(result);
  event["event"] = kEventResult;
  progress.event(event);
  if (std::ferror(stdout)) {
    fmt::print(stderr, "cannot write the result ({}): {}\n", to_string(result.outcome),
               result.message);
    return kChildExitNoResult;
  }
  return 0;
}

}  // namespace locsweep
