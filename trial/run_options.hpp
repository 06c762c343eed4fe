// What a trial is given besides its configuration: where it writes, whether it resumes, the
// device and threads, where its progress goes and when to stop. Shared by the trainer
// (worker/trial.hpp), the noop kind (trial/noop_trial.hpp) and the trial child
// (trial/trial_child.hpp).
#pragma once

#include <atomic>
#include <filesystem>
#include <string>

#include "trial/progress.hpp"

namespace locsweep {

struct TrialRunOptions {
  std::filesystem::path out_dir;
  // never: start fresh (an existing checkpoint is an error, so nothing is overwritten);
  // if_valid: continue from a valid checkpoint, set a damaged one aside and start fresh;
  // required: continue from the checkpoint, fail if there is none or it is damaged.
  enum class Resume { never, if_valid, required } resume = Resume::never;
  std::string device = "cpu";  // "cpu", "cuda", "cuda:1"
  int threads = 0;             // intra-op threads; 0 leaves libtorch's setting
  int attempt = 1;             // 1 for the first attempt (noop failure modes count attempts)
  ProgressSink* progress = nullptr;
  // Polled once per step; when set, the trial checkpoints and returns Outcome::preempted.
  const std::atomic<bool>* stop = nullptr;
  // The rank process that started this one as a trial child (0: none, e.g. `locsweep trial`
  // or a noop run inside the rank); noop.fail: kill_parent kills it.
  int parent_pid = 0;
};

}  // namespace locsweep
