#include "sweeps/plan.hpp"

#include <algorithm>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <unordered_set>

#include "common/sha256.hpp"
#include "sweeps/config_fields.hpp"
#include "sweeps/content_identity.hpp"
#include "sweeps/search_plan.hpp"
#include "sweeps/spec_error.hpp"

namespace locsweep {
namespace {

// How much of the dotted key `path` was written under `root`: the mark of its deepest
// written section (root's when none) and whether the whole key was written.
struct WrittenKey {
  YAML::Mark mark;
  bool whole = false;
};
WrittenKey find_written(const YAML::Node& root, const std::string& path) {
  WrittenKey written{root.Mark()};
  YAML::Node node = root;
  size_t start = 0;
  while (node.IsMap()) {
    const size_t dot = path.find('.', start);
    const std::string key =
        path.substr(start, dot == std::string::npos ? std::string::npos : dot - start);
    bool found = false;
    for (const auto& kv : node)
      if (kv.first.IsScalar() && kv.first.Scalar() == key) {
        written.mark = kv.second.Mark();
        node = kv.second;
        found = true;
        break;
      }
    if (!found) break;
    if (dot == std::string::npos) {
      written.whole = true;
      break;
    }
    start = dot + 1;
  }
  return written;
}

// Where the dotted key `path` was written under `root`, if it was (fully) written there.
std::optional<YAML::Mark> written_at(const YAML::Node& root, const std::string& path) {
  const WrittenKey written = find_written(root, path);
  if (!written.whole) return std::nullopt;
  return written.mark;
}

// Where a dotted key of the shared trial keys was written, for locating cross-field problems:
// the key itself, else the deepest section of it that was written.
YAML::Mark find_mark(const YAML::Node& root, const std::string& path) {
  return find_written(root, path).mark;
}

// The one way a checked configuration becomes a planned trial, grid trials and bases alike:
// its canonical JSON, hash and label.
PlannedTrial planned_trial(TrialConfig config, nlohmann::json assignment, std::string base) {
  const nlohmann::json canonical = canonical_json(config);
  return {sha256_hex(canonical.dump()), trial_label_from_canonical(canonical), std::move(config),
          std::move(assignment), std::move(base)};
}

// The first problem of a trial: find_problem()'s, else an input that cannot be read; fills
// config.inputs by content when `inputs` is given (a base's hash is BasePlanner's part).
std::optional<ConfigProblem> checked(TrialConfig& config,
                                     const std::vector<std::string>& base_names,
                                     InputResolver* inputs) {
  if (auto problem = find_problem(config, base_names)) return problem;
  if (inputs) return inputs->fill(config);
  return std::nullopt;
}

// Where to blame a key of a trial: a function of its dotted path.
using MarkOf = std::function<YAML::Mark(const std::string&)>;

// The first model-shape key on which a base and its dependent differ (the weights of one
// must fit the other), with both values; nothing when they fit.
std::optional<std::pair<std::string, std::string>> shape_mismatch(const TrialConfig& base,
                                                                  const TrialConfig& dep) {
  const auto differs = [](const std::string& key, auto a,
                          auto b) -> std::optional<std::pair<std::string, std::string>> {
    if (a == b) return std::nullopt;
    return std::pair{key, std::to_string(a) + " in the base, " + std::to_string(b) + " here"};
  };
  if (auto d = differs("model.n_layer", base.model.n_layer, dep.model.n_layer)) return d;
  if (auto d = differs("model.n_head", base.model.n_head, dep.model.n_head)) return d;
  if (auto d = differs("model.n_embd", base.model.n_embd, dep.model.n_embd)) return d;
  if (auto d = differs("model.block_size", base.model.block_size, dep.model.block_size)) return d;
  const int base_vocab = model_vocab_size(base), dep_vocab = model_vocab_size(dep);
  if (auto d = differs("model.vocab_size", base_vocab, dep_vocab)) return d;
  if (base_vocab == 0 && base.data.tokenizer != dep.data.tokenizer)
    return std::pair{std::string("data.tokenizer"), "'" + base.data.tokenizer + "' in the base, '" +
                                                        dep.data.tokenizer + "' here"};
  return std::nullopt;
}

// The bases of a sweep as trials: each planned once per seed it serves (once when its block
// sets its own seed), its own base (a chain) first.
class BasePlanner {
 public:
  // `inputs` fills the bases' content identity (nullptr: identity as written).
  BasePlanner(const SweepSpec& spec, InputResolver* inputs)
      : spec_(spec), names_(spec.base_names()), inputs_(inputs) {}

  // When config.model.init names a base: plans it (if not yet), checks that its model shape
  // fits, sets config.inputs.init to "trial:<its hash>" and returns the hash; else "".
  std::string resolve(TrialConfig& config, const MarkOf& mark_of) {
    const std::string& init = config.model.init;
    if (init.rfind("base:", 0) != 0) return "";
    const BaseSpec* base = spec_.find_base(init.substr(5));
    if (!base)  // find_problem checks it, except for kind noop
      throw SpecError(spec_.file, mark_of("model.init"),
                      "model.init: no base named '" + init.substr(5) + "' in this sweep");
    if (std::find(chain_.begin(), chain_.end(), base->name) != chain_.end()) {
      std::string cycle;
      for (const auto& n : chain_) cycle += n + " -> ";
      throw SpecError(spec_.file, mark_of("model.init"),
                      "bases: a cycle (" + cycle + base->name +
                          "): a base cannot start, even through others, from itself");
    }
    if (const auto mismatch = shape_mismatch(base->config, config))
      throw SpecError(
          spec_.file, written_at(base->block, mismatch->first).value_or(mark_of(mismatch->first)),
          mismatch->first + " differs from base '" + base->name + "' (" + mismatch->second +
              "): a trial starts from its base's weights, so their model shapes "
              "(n_layer, n_head, n_embd, block_size, vocabulary) must be equal");
    const int seed = base->own_seed ? base->config.seed : config.seed;
    auto it = planned_.find({base->name, seed});
    if (it == planned_.end())
      it = planned_.emplace(std::pair{base->name, seed}, plan(*base, seed)).first;
    config.inputs.init = "trial:" + it->second;
    return it->second;
  }

  // The bases planned so far, every one after its own base.
  std::vector<PlannedTrial>& trials() { return trials_; }

 private:
  std::string plan(const BaseSpec& base, int seed) {
    TrialConfig config = base.config;
    config.seed = seed;
    const MarkOf mark_of = [&](const std::string& path) {
      if (const auto at = written_at(base.block, path)) return *at;
      if (const auto at = written_at(spec_.root, path)) return *at;
      return base.mark;
    };
    if (const auto problem = checked(config, names_, inputs_))
      throw SpecError(spec_.file, mark_of(problem->path),
                      "base '" + base.name + "': " + problem->text());
    chain_.push_back(base.name);
    std::string its_base = resolve(config, mark_of);
    chain_.pop_back();
    PlannedTrial trial =
        planned_trial(std::move(config), nlohmann::json{{"base", base.name}}, std::move(its_base));
    trial.label = "base " + base.name + " seed=" + std::to_string(seed);
    trials_.push_back(trial);
    return trial.hash;
  }

  const SweepSpec& spec_;
  std::vector<std::string> names_;
  InputResolver* inputs_;
  std::map<std::pair<std::string, int>, std::string> planned_;  // (name, seed) -> hash
  std::vector<std::string> chain_;  // the bases being planned, outermost first
  std::vector<PlannedTrial> trials_;
};

}  // namespace

struct TrialPlanner::State {
  explicit State(const SweepSpec& spec, InputIdentity identity)
      : spec(spec),
        seeds(spec.seeds.empty() ? std::vector<int>{spec.base.seed} : spec.seeds),
        base_names(spec.base_names()) {
    if (identity == InputIdentity::content) {
      digests.emplace(DigestCache::default_file());
      inputs.emplace(*digests);
    }
    bases.emplace(spec, inputs ? &*inputs : nullptr);
  }
  const SweepSpec& spec;
  std::vector<int> seeds;
  std::vector<std::string> base_names;
  std::optional<DigestCache> digests;
  std::optional<InputResolver> inputs;
  std::optional<BasePlanner> bases;
};

TrialPlanner::TrialPlanner(const SweepSpec& spec, InputIdentity identity)
    : state_(std::make_unique<State>(spec, identity)) {}

TrialPlanner::~TrialPlanner() = default;

std::vector<PlannedTrial> TrialPlanner::plan(const std::vector<Assignment>& combo) {
  State& s = *state_;
  const SweepSpec& spec = s.spec;
  std::vector<PlannedTrial> trials;
  for (int seed : s.seeds) {
    TrialConfig config = spec.base;
    if (!spec.seeds.empty()) config.seed = seed;
    nlohmann::json assignment = nlohmann::json::object();
    for (const Assignment& a : combo) {
      apply_field(config, a.path, a.value, spec.file, a.mark);
      assignment[a.path] = find_field(a.path)->get(config);
    }
    // Blame the axis value that set the key, else where the shared key was written.
    const MarkOf mark_of = [&](const std::string& path) {
      YAML::Mark mark = find_mark(spec.root, path);
      for (const Assignment& a : combo)
        if (a.path == path) mark = a.value.Mark();
      return mark;
    };
    if (const auto problem = checked(config, s.base_names, s.inputs ? &*s.inputs : nullptr))
      throw SpecError(spec.file, mark_of(problem->path), problem->text());
    std::string base = s.bases->resolve(config, mark_of);
    trials.push_back(planned_trial(std::move(config), assignment, std::move(base)));
  }
  return trials;
}

const std::vector<PlannedTrial>& TrialPlanner::bases() const {
  return state_->bases->trials();
}

void TrialPlanner::save_digests() {
  if (state_->digests) state_->digests->save();
}

size_t append_trials(Plan& plan, std::vector<PlannedTrial> trials) {
  if (trials.empty()) return 0;
  std::unordered_set<std::string> seen;
  for (const PlannedTrial& t : plan.trials) seen.insert(t.hash);
  size_t merged = 0;
  for (PlannedTrial& t : trials) {
    if (!seen.insert(t.hash).second) {
      ++merged;
      continue;
    }
    plan.trials.push_back(std::move(t));
  }
  return merged;
}

Plan plan_sweep(const SweepSpec& spec, InputIdentity identity) {
  // Combinations of assignments: grid (cartesian) x zip (element-wise), then the points.
  // A search without axes plans no trial of the shared keys alone: its points are the
  // search's (sweeps/search_plan.hpp); the shared keys are still checked here, where their
  // problems are blamed on the keys written.
  const bool axes = !spec.grid.empty() || !spec.zip.empty() || !spec.points.empty();
  std::vector<std::vector<Assignment>> combos;
  if (!spec.grid.empty() || !spec.zip.empty() || spec.points.empty()) combos.push_back({});
  for (const Axis& axis : spec.grid) {
    std::vector<std::vector<Assignment>> next;
    for (const auto& combo : combos)
      for (const auto& value : axis.values) {
        next.push_back(combo);
        next.back().push_back({axis.path, value, axis.mark});
      }
    combos = std::move(next);
  }
  if (!spec.zip.empty()) {
    std::vector<std::vector<Assignment>> next;
    for (const auto& combo : combos)
      for (size_t i = 0; i < spec.zip.front().values.size(); ++i) {
        next.push_back(combo);
        for (const Axis& axis : spec.zip)
          next.back().push_back({axis.path, axis.values[i], axis.mark});
      }
    combos = std::move(next);
  }
  for (const auto& point : spec.points) combos.push_back(point);

  TrialPlanner planner(spec, identity);
  std::vector<PlannedTrial> grid_trials;
  for (const auto& combo : combos) {
    std::vector<PlannedTrial> trials = planner.plan(combo);
    if (spec.search && !axes) continue;  // only checked
    for (auto& t : trials) grid_trials.push_back(std::move(t));
  }

  std::vector<PlannedTrial> baselines;
  if (spec.search) baselines = plan_search_baselines(spec, planner);

  // Bases first (each after its own base), then the grid, then a search's baselines;
  // duplicates merged.
  Plan plan;
  plan.sweep = spec.name;
  plan.merged_duplicates += append_trials(plan, planner.bases());
  plan.merged_duplicates += append_trials(plan, std::move(grid_trials));
  plan.merged_duplicates += append_trials(plan, std::move(baselines));
  planner.save_digests();
  return plan;
}

}  // namespace locsweep
