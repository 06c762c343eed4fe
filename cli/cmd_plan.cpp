// `locsweep plan [SWEEP.yaml] [KEY=VALUE...] [--db FILE] [--json]`: the trials a sweep expands
// into (without SWEEP, the embedded demo sweep's).
#include <fmt/format.h>

#include <memory>
#include <nlohmann/json.hpp>

#include "cli/commands.hpp"
#include "cli/embedded.hpp"
#include "results/queries.hpp"
#include "sweeps/overrides.hpp"
#include "sweeps/plan.hpp"

#include <filesystem>
#include <map>

namespace locsweep::cli {

namespace {

std::string short_assignment(const nlohmann::json& assignment) {
  std::string out;
  for (const auto& [key, value] : assignment.items())
    out += (out.empty() ? "" : " ") + key + "=" +
           (value.is_string() ? value.get<std::string>() : value.dump());
  return out;
}

// Each trial's base as the plan shows it: the base's label, "" for a trial without one.
std::map<std::string, std::string> base_labels(const Plan& plan) {
  std::map<std::string, std::string> label_of, out;
  for (const auto& t : plan.trials) label_of[t.hash] = t.label;
  for (const auto& t : plan.trials)
    if (!t.base.empty()) out[t.hash] = label_of[t.base];
  return out;
}

}  // namespace

// `states` (hash -> recorded state) is empty without --db: then no status column.
void print_plan(const Plan& plan, bool json, const std::map<std::string, TrialState>* states) {
  auto status_of = [&](const PlannedTrial& t) -> std::string {
    if (!states) return "";
    const auto it = states->find(t.hash);
    return it == states->end() ? "new" : it->second.status;
  };
  const std::map<std::string, std::string> bases = base_labels(plan);
  auto base_of = [&](const PlannedTrial& t) -> std::string {
    const auto it = bases.find(t.hash);
    return it == bases.end() ? "" : it->second;
  };
  if (json) {
    nlohmann::json out = {{"sweep", plan.sweep}, {"merged_duplicates", plan.merged_duplicates}};
    out["trials"] = nlohmann::json::array();
    for (const auto& t : plan.trials) {
      nlohmann::json row = {{"hash", t.hash},
                            {"label", t.label},
                            {"assignment", t.assignment},
                            {"config", to_json(t.config)}};
      if (!t.base.empty()) row["base"] = {{"hash", t.base}, {"label", base_of(t)}};
      if (states) row["status"] = status_of(t);
      out["trials"].push_back(row);
    }
    fmt::print("{}\n", out.dump(2));
    return;
  }
  fmt::print("sweep {}: {} trials", plan.sweep, plan.trials.size());
  if (plan.merged_duplicates)
    fmt::print(" ({} duplicate combinations merged)", plan.merged_duplicates);
  if (states) {
    std::map<std::string, int> counts;
    for (const auto& t : plan.trials) ++counts[status_of(t)];
    std::string summary;
    for (const auto& [status, n] : counts)
      summary += (summary.empty() ? "" : ", ") + std::to_string(n) + " " + status;
    fmt::print(": {}", summary);
  }
  // The base column only for a staged sweep (bases are listed first: the plan's order).
  const size_t base_width = bases.empty() ? 0 : 24;
  fmt::print("\n{:>4}  {:<12}  {:<32}  {:<8}  {:<{}}{}{}\n", "#", "hash", "trial",
             states ? "status" : "", bases.empty() ? "" : "base", base_width,
             bases.empty() ? "" : "  ", "axes");
  for (size_t i = 0; i < plan.trials.size(); ++i) {
    const auto& t = plan.trials[i];
    const std::string base = bases.empty() ? "" : (t.base.empty() ? "-" : base_of(t));
    fmt::print("{:>4}  {:<12}  {:<32}  {:<8}  {:<{}}{}{}\n", i + 1, t.hash.substr(0, 12), t.label,
               status_of(t), base, base_width, bases.empty() ? "" : "  ",
               short_assignment(t.assignment));
  }
}

void add_plan_command(CLI::App& app) {
  struct Options {
    std::string sweep;
    std::vector<std::string> overrides;
    std::string db;
    bool json = false;
  };
  auto opt = std::make_shared<Options>();
  auto* cmd = app.add_subcommand("plan", "Expand a sweep spec into its trials");
  cmd->add_option("SWEEP", opt->sweep, "Sweep YAML (default: the embedded demo sweep)");
  add_overrides_option(cmd, opt->overrides);
  add_db_option(cmd, opt->db, "Results database: show which trials are new, done, failed", false);
  cmd->add_flag("--json", opt->json, "Print JSON");
  cmd->callback([opt] {
    if (looks_like_override(opt->sweep) && !std::filesystem::exists(opt->sweep)) {
      opt->overrides.insert(opt->overrides.begin(), opt->sweep);  // `plan KEY=VALUE`: the demo
      opt->sweep.clear();
    }
    const SweepSpec spec = opt->sweep.empty()
                               ? embedded_demo_sweep(opt->overrides)
                               : load_sweep_with_overrides(opt->sweep, opt->overrides);
    const Plan plan = plan_sweep(spec);
    if (opt->db.empty()) return print_plan(plan, opt->json, nullptr);
    std::map<std::string, TrialState> states;
    if (std::filesystem::exists(opt->db)) {  // no database yet: every trial is new
      Database db = open_results_read_only(opt->db);
      std::vector<std::string> hashes;
      for (const auto& t : plan.trials) hashes.push_back(t.hash);
      states = trial_states(db, hashes);
    }
    print_plan(plan, opt->json, &states);
  });
}

}  // namespace locsweep::cli
