// One trial: train and evaluate a localist GPT-2 as its TrialConfig says (or, for kind
// noop, pretend to), writing into an output folder:
//   trial.json        the configuration and its hash
//   checkpoint.h5     the latest checkpoint (worker/checkpoint.hpp)
//   attention.h5      recorded attention of a few validation windows (worker/attention_file.hpp)
//   model.safetensors the trained model with HF names (record.export_safetensors)
//   result.json       the TrialResult, written last: its presence means the trial finished
#pragma once

#include <atomic>
#include <filesystem>
#include <string>

#include "sweeps/trial_config.hpp"
#include "worker/progress.hpp"
#include "worker/trial_result.hpp"

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
  // The worker process that started this one as a trial child (0: none, e.g. `locsweep trial`
  // or a noop run inside the worker); noop.fail: kill_parent kills it.
  int parent_pid = 0;
};

// Runs the trial to completion, preemption or a classified failure (nan, oom, error; a write
// in out_dir that failed for lack of space: disk_full) and returns its result. Throws
// InputError for bad input found before training starts.
TrialResult run_trial(const TrialConfig& config, const TrialRunOptions& options);

// The noop kind (worker/noop_trial.cpp): no torch, for orchestration tests and benchmarks.
TrialResult run_noop_trial(const TrialConfig& config, const TrialRunOptions& options);

}  // namespace locsweep
