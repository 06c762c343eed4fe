// The noop trial kind: no training and no torch, for orchestration tests and benchmarks. It
// sleeps for noop.duration_s (checking the stop flag), then succeeds or fails the way
// noop.fail says, for the first noop.fail_attempts attempts (-1: every one).
#pragma once

#include "sweeps/trial_config.hpp"
#include "trial/run_options.hpp"
#include "trial/trial_result.hpp"

namespace locsweep {

TrialResult run_noop_trial(const TrialConfig& config, const TrialRunOptions& options);

}  // namespace locsweep
