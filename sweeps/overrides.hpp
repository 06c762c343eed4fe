// Hydra-style `key=value` overrides from the command line (`locsweep run sweep.yaml
// train.lr=1e-3 grid.locality.schedule=[linear,cubic] seeds=[0,1]`), one implementation for
// plan, run, submit and trial.
//
// The key is a dotted path as in `results --where`: a trial key (`train.lr`), a sweep key
// (`name`, `order`, `seeds`, `seeds.count`, `points`) or an axis (`grid.locality.schedule`,
// `zip.train.lr`). The value is read as YAML: a scalar, a flow list `[a, b]` or a flow map
// `{start: 0, count: 4}`. Overrides are applied in order to the spec's YAML tree after it is
// read and before it is checked, so they are validated exactly like the file; an error an
// override brings in is reported against it ("<command line: train.lr=abc>: error: ...").
// A spec read with overrides stores (SweepSpec::source, the DB's sweeps row) the merged YAML
// under a comment naming the file and the overrides, so the trials' hashes and the stored spec
// both record them.
#pragma once

#include <yaml-cpp/yaml.h>

#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

namespace locsweep {

struct SweepSpec;
struct TrialConfig;

struct Override {
  std::string text;  // as given: "train.lr=1e-3"
  std::string path;  // "train.lr"
  YAML::Node value;  // the value as YAML; it carries no marks (it is not in the file)
};

// True for "KEY=VALUE" where KEY is a dotted path of [A-Za-z0-9_-] words: what a positional
// argument must look like to be an override rather than a file.
bool looks_like_override(std::string_view arg);

// Reads "KEY=VALUE"; throws InputError naming the argument when it is not one.
Override parse_override(const std::string& text);
std::vector<Override> parse_overrides(const std::vector<std::string>& texts);

// "<command line: train.lr=1e-3>": what errors caused by `o` are reported against.
std::string override_label(const Override& o);

// Sets each override's path in `root` (a mapping, or null for an empty document) in order:
// into an existing key where the file has one (written nested, `train: {lr: ...}`, or dotted,
// `train.lr: ...`), else as a new dotted key of the deepest mapping found on the way.
void apply_overrides(YAML::Node& root, const std::vector<Override>& overrides);

// The text stored for a spec read with overrides: a comment naming `file` and the overrides,
// then the merged YAML.
std::string overridden_source(const YAML::Node& merged, const std::string& file,
                              const std::vector<Override>& overrides);

// load_sweep / parse_sweep / load_trial_config (sweeps/sweep_spec.hpp) with `overrides`
// ("KEY=VALUE" texts). An error the file has alone is reported as usual (file:line:col); an
// error that only appears once an override is applied names the first such override.
SweepSpec load_sweep_with_overrides(const std::filesystem::path& file,
                                    const std::vector<std::string>& overrides);
SweepSpec parse_sweep_with_overrides(const std::string& yaml_text, const std::string& file,
                                     const std::string& spec_dir,
                                     const std::vector<std::string>& overrides);
TrialConfig load_trial_config_with_overrides(const std::filesystem::path& file,
                                             const std::vector<std::string>& overrides);

}  // namespace locsweep
