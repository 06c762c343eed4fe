// Expanding a sweep into its trials: grid x zip (+ points) x seeds, each trial checked,
// canonicalised and hashed; trials whose hashes coincide are merged into one.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "sweeps/sweep_spec.hpp"

namespace locsweep {

struct PlannedTrial {
  std::string hash;   // trial_hash(config), hex
  std::string label;  // trial_label(config)
  TrialConfig config;
  nlohmann::json assignment;  // the axis values that made this trial, as written into it
};

struct Plan {
  std::string sweep;
  std::vector<PlannedTrial> trials;  // in expansion order, no two with the same hash
  size_t merged_duplicates = 0;      // combinations that turned out to be an earlier trial
};

// How the planner identifies what a trial reads (sweeps/content_identity.hpp): by content
// (the corpus text, tokenizer files and init weights are read, through the digest cache), or
// as written (nothing is read: for fuzzers and tests of the expansion alone; such hashes are
// not the ones `run` records).
enum class InputIdentity { content, as_written };

// Throws SpecError at the grid value (or shared key) that makes a trial invalid, or whose
// input cannot be read.
Plan plan_sweep(const SweepSpec& spec, InputIdentity identity = InputIdentity::content);

}  // namespace locsweep
