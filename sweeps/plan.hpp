// Expanding a sweep into its trials: grid x zip (+ points) x seeds, each trial checked,
// canonicalised and hashed; trials whose hashes coincide are merged into one. A trial whose
// model.init is `base:<name>` depends on that base (SweepSpec::bases): the base is planned
// as a trial of its own (one per seed it serves, or one with its own seed), listed before
// the trials that start from it, and the dependent's identity includes the base's hash
// (config.inputs.init = "trial:<base hash>").
#pragma once

#include <memory>
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
// A sweep with a `search:` plans here its grid, zip and points (none when it has none: the
// shared keys alone are then only checked); its points and baselines are
// sweeps/search_plan.hpp's.
Plan plan_sweep(const SweepSpec& spec, InputIdentity identity = InputIdentity::content);

// Appends to plan.trials those of `trials` whose hash it does not hold yet; returns how many
// were merged into one it holds (Plan::merged_duplicates does not count them).
size_t append_trials(Plan& plan, std::vector<PlannedTrial> trials);

// The planner's steps, for trials a sweep plans beyond its grid (a search's points): each
// combination of assignments over the shared keys becomes one trial per seed of the sweep,
// exactly as a grid's (checked, identified by content, its base planned and resolved).
class TrialPlanner {
 public:
  TrialPlanner(const SweepSpec& spec, InputIdentity identity);  // `spec` must outlive it
  ~TrialPlanner();
  TrialPlanner(const TrialPlanner&) = delete;
  TrialPlanner& operator=(const TrialPlanner&) = delete;
  // The trials of `combo`, in the sweep's seed order; the assignment records each path's
  // value. Throws SpecError at the assignment's value, or the shared key, to blame.
  std::vector<PlannedTrial> plan(const std::vector<Assignment>& combo);
  // The bases the trials planned so far start from, each after its own base.
  const std::vector<PlannedTrial>& bases() const;
  // Writes the digest cache when it gained entries (content identity).
  void save_digests();

 private:
  struct State;
  std::unique_ptr<State> state_;
};

}  // namespace locsweep
