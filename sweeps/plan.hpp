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

// Throws SpecError at the grid value (or shared key) that makes a trial invalid.
Plan plan_sweep(const SweepSpec& spec);

}  // namespace locsweep
