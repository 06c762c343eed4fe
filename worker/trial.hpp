// One trial: train and evaluate a localist GPT-2 as its TrialConfig says (or, for kind
// noop, pretend to), writing into an output folder:
//   trial.json        the configuration and its hash
//   checkpoint.h5     the latest checkpoint (worker/checkpoint.hpp)
//   attention.h5      recorded attention of a few validation windows (worker/attention_file.hpp)
//   model.safetensors the trained model with HF names (record.export_safetensors)
//   result.json       the TrialResult, written last: its presence means the trial finished
#pragma once

#include "sweeps/trial_config.hpp"
#include "trial/noop_trial.hpp"
#include "trial/run_options.hpp"
#include "trial/trial_result.hpp"

namespace locsweep {

// Runs the trial to completion, to its rung (execution.stop_at_step below train.steps:
// checkpointed and validated at that step, Outcome::rung, no result.json; a later attempt
// resumes from there), preemption or a classified failure (nan, oom, error; a write in
// out_dir that failed for lack of space: disk_full) and returns its result. Throws InputError
// for bad input found before training starts.
TrialResult run_trial(const TrialConfig& config, const TrialRunOptions& options);

}  // namespace locsweep
