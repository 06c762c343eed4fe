// The child side of the trial protocol (trial/child_protocol.hpp): what `locsweep-trainer
// trial-exec` does around the trainer. It takes the trial folder's lock (waiting for an
// earlier attempt that is still checkpointing), watches its parent rank (checkpoint and end
// when it dies), turns SIGTERM/SIGINT/SIGUSR1 into a checkpoint-and-stop, runs the trial and
// writes its result as the last JSON line on stdout. Torch-free: the trainer is passed in.
#pragma once

#include <functional>

#include "sweeps/trial_config.hpp"
#include "trial/child_protocol.hpp"
#include "trial/run_options.hpp"
#include "trial/trial_result.hpp"

namespace locsweep {

// Runs a trial to its result; may throw (std::bad_alloc is an oom, anything else an error).
using TrialRunner = std::function<TrialResult(const TrialConfig&, const TrialRunOptions&)>;

// Runs the attempt and returns the process's exit status: 0 once its result line is written,
// kChildExitNoResult when it could not be.
int run_trial_child(const ChildRequest& request, const TrialRunner& run);

}  // namespace locsweep
