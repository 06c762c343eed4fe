// A sweep specification: a trial configuration (the keys every trial shares) plus the axes
// that vary it. In YAML:
//
//   name: paper-v1                      # identifies the sweep in a results DB
//   model: {...}  data: {...}  train: {...}  locality: {...}   # the shared trial keys
//   grid:                               # cartesian product over dotted keys
//     locality.schedule: [distributed, localist, linear, quintic]
//   zip:                                # lists of equal length, combined element-wise
//     train.lr: [1e-3, 3e-4]
//     train.steps: [100, 300]
//   points:                             # hand-picked combinations, added to the product
//     - {locality.mechanism: mask, locality.schedule: localist}
//   seeds: [0, 1, 2]                    # or {start: 0, count: 100}
//   order: longest-first                # or fifo: the order trials are handed out
//   bases:                              # named base trials (staged sweeps); a trial with
//     pretrained: {data: {corpus: sotu}}   # model.init: base:pretrained starts from the
//                                       # final weights of that base
//   search:                             # a search of one numeric key (search/search.hpp)
//     {key: locality.schedule.beta, interval: [1, 20], method: brent, objective: val_ppl,
//      budget: 20}                      # its points: sweeps/search_plan.hpp
//   early_stopping: {rungs: [20, 40], reduction: 3}   # ASHA over the sweep's own trials
//                                       # (not its bases): docs/early-stopping.md
//
// See docs/sweep-spec.md for every key.
#pragma once

#include <yaml-cpp/yaml.h>

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "search/asha.hpp"
#include "search/search.hpp"
#include "sweeps/overrides.hpp"
#include "sweeps/trial_config.hpp"

namespace locsweep {

// The order trials are handed to workers: the spec's `order` key and `locsweep run --order`
// both read it with dispatch_order_from_string.
enum class DispatchOrder { longest_first, fifo };
std::string_view to_string(DispatchOrder order);  // "longest-first", "fifo"
// The inverse of to_string(); nothing for any other text.
std::optional<DispatchOrder> dispatch_order_from_string(std::string_view text);
// What dispatch_order_from_string accepts, for messages and help.
inline constexpr std::string_view kDispatchOrderChoices = "longest-first or fifo";

// One `path: value` assignment, remembering where it was written.
struct Assignment {
  std::string path;
  YAML::Node value;
  YAML::Mark mark;
};

// A grid or zip axis: one key, the values it takes.
struct Axis {
  std::string path;
  YAML::Mark mark;
  std::vector<YAML::Node> values;
};

// A named base trial (`bases: {<name>: {...}}`): the sweep's shared trial keys overlaid with
// its block, model.init reset to scratch unless the block sets it; no axis applies to it.
// Its seed follows the dependent trial's unless the block sets `seed:` (docs/sweep-spec.md,
// "Staged sweeps").
struct BaseSpec {
  std::string name;
  YAML::Mark mark;        // where its name was written
  YAML::Node block;       // its keys as written (for locating errors); may be null
  TrialConfig config;     // the shared keys overlaid with the block
  bool own_seed = false;  // the block sets `seed:`: one base serves every seed
};

struct SweepSpec {
  std::string name;
  std::string description;
  std::string file;    // as given, for messages
  std::string source;  // the YAML text, stored with the sweep
  YAML::Node root;     // parsed document (for locating errors in the shared keys)
  TrialConfig base;
  std::vector<Axis> grid;
  std::vector<Axis> zip;
  std::vector<std::vector<Assignment>> points;
  std::vector<int> seeds;  // empty: the base seed only
  YAML::Mark seeds_mark;   // where 'seeds' was written
  DispatchOrder order = DispatchOrder::longest_first;
  std::vector<BaseSpec> bases;  // in the order written
  // `search:`: its points are planned by sweeps/search_plan.hpp, where the search stands is
  // results/search_progress.hpp; the spec's place of each of its keys is root["search"].
  std::optional<SearchSpec> search;
  // `early_stopping:` (ASHA, search/asha.hpp): its rungs are below every trial's train.steps;
  // it applies to the sweep's own trials, not to its bases.
  std::optional<AshaSpec> early_stopping;
  // The base named `name`, or nullptr.
  const BaseSpec* find_base(const std::string& name) const;
  std::vector<std::string> base_names() const;
};

// The most trials one sweep may expand into (combinations before duplicates are merged):
// a larger spec is refused before anything is expanded, with the count and this cap.
inline constexpr std::uint64_t kMaxTrialsPerSweep = 1'000'000;

// How many trials `spec` expands into before duplicates are merged: (grid product x zip
// length, or 1 without either and without points) + points, each x seeds. Saturates at
// UINT64_MAX instead of overflowing.
std::uint64_t combination_count(const SweepSpec& spec);

// Reads and checks a sweep file; throws SpecError (file:line:col) or InputError.
SweepSpec load_sweep(const std::filesystem::path& file);
// Same, from text; `file` labels messages, `spec_dir` anchors relative paths. `overrides` are
// applied to the YAML tree before it is checked (sweeps/overrides.hpp, which also has the
// loaders that take them from a command line).
SweepSpec parse_sweep(const std::string& yaml_text, const std::string& file,
                      const std::string& spec_dir, const std::vector<Override>& overrides = {});

// Reads a single trial's configuration (YAML or JSON: the trial keys, no axes).
TrialConfig load_trial_config(const std::filesystem::path& file);
TrialConfig parse_trial_config(const std::string& text, const std::string& file,
                               const std::string& spec_dir,
                               const std::vector<Override>& overrides = {});

}  // namespace locsweep
