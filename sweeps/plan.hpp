// Expanding a sweep into its trials: grid x zip (+ points) x seeds, each trial checked,
// canonicalised and hashed; trials whose hashes coincide are merged into one. A trial whose
// model.init is `base:<name>` depends on that base (SweepSpec::bases): the base is planned
// as a trial of its own (one per seed it serves, or one with its own seed), listed before
// the trials that start from it, and the dependent's identity includes the base's hash
// (config.inputs.init = "trial:<base hash>").
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "sweeps/sweep_spec.hpp"

namespace locsweep {

struct PlannedTrial {
  std::string hash;   // trial_hash(config), hex
  std::string label;  // trial_label(config); a base's is "base <name> seed=<seed>"
  TrialConfig config;
  nlohmann::json assignment;  // the axis values that made this trial, as written into it
  std::string base;           // hash of the base trial it starts from; empty when none
};

struct Plan {
  std::string sweep;
  // In expansion order, no two with the same hash; every base before its dependents.
  std::vector<PlannedTrial> trials;
  size_t merged_duplicates = 0;  // combinations that turned out to be an earlier trial
};

// How the planner identifies what a trial reads (sweeps/content_identity.hpp): by content
// (the corpus text, tokenizer files and init weights are read, through the digest cache), or
// as written (nothing is read: for fuzzers and tests of the expansion alone; such hashes are
// not the ones `run` records).
enum class InputIdentity { content, as_written };

// Throws SpecError at the grid value (or shared key, or base key) that makes a trial
// invalid: a problem of find_problem(), an input that cannot be read, an unknown base, a base
// whose model shape differs from its dependent's, a cycle of bases.
Plan plan_sweep(const SweepSpec& spec, InputIdentity identity = InputIdentity::content);

}  // namespace locsweep
