#include "sweeps/plan.hpp"

#include <optional>
#include <unordered_set>

#include "common/sha256.hpp"
#include "sweeps/config_fields.hpp"
#include "sweeps/content_identity.hpp"
#include "sweeps/spec_error.hpp"

namespace locsweep {
namespace {

// Where a dotted key of the shared trial keys was written, for locating cross-field problems.
YAML::Mark find_mark(const YAML::Node& root, const std::string& path) {
  YAML::Node node = root;
  YAML::Mark mark = root.Mark();
  size_t start = 0;
  while (node.IsMap()) {
    const size_t dot = path.find('.', start);
    const std::string key =
        path.substr(start, dot == std::string::npos ? std::string::npos : dot - start);
    bool found = false;
    for (const auto& kv : node)
      if (kv.first.IsScalar() && kv.first.Scalar() == key) {
        mark = kv.second.Mark();
        node = kv.second;
        found = true;
        break;
      }
    if (!found || dot == std::string::npos) break;
    start = dot + 1;
  }
  return mark;
}

}  // namespace

Plan plan_sweep(const SweepSpec& spec, InputIdentity identity) {
  // Combinations of assignments: grid (cartesian) x zip (element-wise), then the points.
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

  const std::vector<int> seeds = spec.seeds.empty() ? std::vector<int>{spec.base.seed} : spec.seeds;
  Plan plan;
  plan.sweep = spec.name;
  std::unordered_set<std::string> seen;
  std::optional<DigestCache> digests;
  if (identity == InputIdentity::content) digests.emplace(DigestCache::default_file());
  std::optional<InputResolver> inputs;
  if (digests) inputs.emplace(*digests);
  for (const auto& combo : combos) {
    for (int seed : seeds) {
      TrialConfig config = spec.base;
      if (!spec.seeds.empty()) config.seed = seed;
      nlohmann::json assignment = nlohmann::json::object();
      for (const Assignment& a : combo) {
        apply_field(config, a.path, a.value, spec.file, a.mark);
        assignment[a.path] = find_field(a.path)->get(config);
      }
      auto problem = find_problem(config);
      if (!problem && inputs) problem = inputs->fill(config);  // identity by content
      if (problem) {
        // Blame the axis value that set the key, else where the shared key was written.
        YAML::Mark mark = find_mark(spec.root, problem->path);
        for (const Assignment& a : combo)
          if (a.path == problem->path) mark = a.value.Mark();
        throw SpecError(spec.file, mark, problem->text());
      }
      const nlohmann::json canonical = canonical_json(config);
      PlannedTrial trial{sha256_hex(canonical.dump()), trial_label_from_canonical(canonical),
                         config, assignment};
      if (!seen.insert(trial.hash).second) {
        ++plan.merged_duplicates;
        continue;
      }
      plan.trials.push_back(std::move(trial));
    }
  }
  if (digests) digests->save();
  return plan;
}

}  // namespace locsweep
