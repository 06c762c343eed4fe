// The noop trial kind: sleeps for noop.duration_s (checking the stop flag), then succeeds or
// fails the way noop.fail says, for the first noop.fail_attempts attempts (-1: every one).
// Real failures, not flags: crash dereferences null (SIGSEGV), abort calls abort(), hang
// blocks forever ignoring SIGTERM, oom allocates under an address-space limit until
// allocation fails, kill_parent SIGKILLs the worker process that started this trial child
// (in one-process mode the coordinator: a job killed by its own trial) and then waits to be
// stopped. With noop.loss a done trial reports its synthetic loss as val_loss (and
// val_ppl = exp(val_loss)).
#include <signal.h>
#include <sys/resource.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <csignal>
#include <memory>
#include <new>
#include <thread>
#include <vector>

#include "common/error.hpp"
#include "trial/noop_trial.hpp"

namespace locsweep {

TrialResult run_noop_trial(const TrialConfig& config, const TrialRunOptions& options) {
  const auto start = std::chrono::steady_clock::now();
  TrialResult result;
  result.device = "none";
  if (options.progress)
    options.progress->event({{"event", "start"},
                             {"attempt", options.attempt},
                             {"resumed_from", 0},
                             {"steps", 1},
                             {"device", "none"}});
  const auto until = start + std::chrono::duration<double>(config.noop.duration_s);
  while (std::chrono::steady_clock::now() < until) {
    if (options.stop && options.stop->load()) {
      result.outcome = Outcome::preempted;
      result.message = "stopped by signal";
      return result;
    }
    const auto left = std::chrono::duration_cast<std::chrono::microseconds>(
        until - std::chrono::steady_clock::now());
    std::this_thread::sleep_for(
        std::min<std::chrono::microseconds>(left, std::chrono::milliseconds(20)));
  }
  const bool fail = config.noop.fail != "none" &&
                    (config.noop.fail_attempts < 0 || options.attempt <= config.noop.fail_attempts);
  if (fail) {
    const std::string& how = config.noop.fail;
    if (how == "crash") {
      volatile int* null = nullptr;
      *null = 1;
    } else if (how == "abort") {
      std::abort();
    } else if (how == "hang") {
      std::signal(SIGTERM, SIG_IGN);
      for (;;) std::this_thread::sleep_for(std::chrono::seconds(1));
    } else if (how == "oom") {
      rlimit limit{};
      getrlimit(RLIMIT_AS, &limit);
      limit.rlim_cur = 4ull << 30;  // 4 GiB of address space: fails fast, harms no one
      setrlimit(RLIMIT_AS, &limit);
      std::vector<std::unique_ptr<char[]>> hog;  // default-initialised: address space, not RAM
      for (;;) hog.emplace_back(new char[256u << 20]);  // throws std::bad_alloc
    } else if (how == "nan") {
      result.outcome = Outcome::nan;
      result.message = "noop: loss became NaN (configured)";
    } else if (how == "error") {
      throw InputError("noop: configured to fail with an error");
    } else if (how == "kill_parent") {
      if (options.parent_pid <= 0 || ::getppid() != options.parent_pid)
        throw InputError("noop.fail: kill_parent needs a trial child process (not --inline-noop)");
      ::kill(options.parent_pid, SIGKILL);
      while (!(options.stop && options.stop->load()))  // SIGTERM at the parent's death
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
      result.outcome = Outcome::preempted;
      result.message = "noop: killed its parent (configured), then stopped by signal";
      return result;
    }
  }
  result.steps_done = 1;
  if (const auto loss = noop_synthetic_loss(config)) {  // noop.loss: recorded like a trained one
    result.val_loss = *loss;
    result.val_ppl = std::exp(*loss);
    result.train_loss = *loss;
    result.val_tokens = 1;  // store.cpp records validation figures of trials that predicted tokens
  }
  result.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return result;
}

}  // namespace locsweep
