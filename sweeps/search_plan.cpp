#include "sweeps/search_plan.hpp"

#include "sweeps/numeric_keys.hpp"
#include "sweeps/spec_error.hpp"

namespace locsweep {
namespace {

const SearchSpec& search_of(const SweepSpec& spec) {
  if (!spec.search) throw SpecError(spec.file, spec.root.Mark(), "the sweep has no 'search' block");
  return *spec.search;
}

YAML::Mark interval_mark(const SweepSpec& spec) {
  const YAML::Node search = spec.root["search"];
  if (search && search.IsMap() && search["interval"]) return search["interval"].Mark();
  return spec.root.Mark();
}

}  // namespace

std::vector<PlannedTrial> plan_search_point(const SweepSpec& spec, TrialPlanner& planner,
                                            double x) {
  const SearchSpec& search = search_of(spec);
  x = rounded_point(x);
  const NumericKeyValue value = numeric_key_yaml(spec.base, search.key, x);
  std::vector<PlannedTrial> trials;
  try {
    trials = planner.plan({{value.path, YAML::Load(value.yaml), interval_mark(spec)}});
  } catch (const SpecError& e) {  // the value was made here: blame the interval
    throw SpecError(spec.file, interval_mark(spec),
                    "search point " + search.key + " = " + format_number(x) + ": " + e.message());
  }
  // A gpt2 label shows a polynomial's exponent already; any other key is added.
  const bool shown = spec.base.kind == TrialKind::gpt2 && search.key == "locality.schedule.beta";
  for (PlannedTrial& t : trials) {
    t.assignment = {{"search", {{search.key, x}}}};
    if (!shown) t.label += " " + search.key + "=" + format_number(x);
  }
  return trials;
}

std::vector<PlannedTrial> plan_search_baselines(const SweepSpec& spec, TrialPlanner& planner) {
  if (!search_of(spec).objective.needs_baseline()) return {};
  std::vector<PlannedTrial> trials =
      planner.plan({{"locality.schedule", YAML::Node("distributed"), interval_mark(spec)}});
  for (PlannedTrial& t : trials) t.label = "baseline " + t.label;
  return trials;
}

Plan with_search_points(const SweepSpec& spec, Plan plan, const std::vector<double>& asked,
                        InputIdentity identity) {
  TrialPlanner planner(spec, identity);
  std::vector<PlannedTrial> points;
  for (double x : asked)
    for (PlannedTrial& t : plan_search_point(spec, planner, x)) points.push_back(std::move(t));
  plan.merged_duplicates += append_trials(plan, planner.bases());
  plan.merged_duplicates += append_trials(plan, std::move(points));
  planner.save_digests();
  return plan;
}

}  // namespace locsweep
