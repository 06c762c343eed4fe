// `locsweep plan SWEEP.yaml [--json]`: the trials a sweep expands into.
#include <fmt/format.h>

#include <memory>
#include <nlohmann/json.hpp>

#include "cli/commands.hpp"
#include "cli/embedded.hpp"
#include "sweeps/plan.hpp"

namespace locsweep::cli {

namespace {

std::string short_assignment(const nlohmann::json& assignment) {
  std::string out;
  for (const auto& [key, value] : assignment.items())
    out += (out.empty() ? "" : " ") + key + "=" + (value.is_string() ? value.get<std::string>() : value.dump());
  return out;
}

}  // namespace

void print_plan(const Plan& plan, bool json) {
  if (json) {
    nlohmann::json out = {{"sweep", plan.sweep}, {"merged_duplicates", plan.merged_duplicates}};
    out["trials"] = nlohmann::json::array();
    for (const auto& t : plan.trials)
      out["trials"].push_back({{"hash", t.hash}, {"label", t.label}, {"assignment", t.assignment},
                               {"config", to_json(t.config)}});
    fmt::print("{}\n", out.dump(2));
    return;
  }
  fmt::print("sweep {}: {} trials", plan.sweep, plan.trials.size());
  if (plan.merged_duplicates) fmt::print(" ({} duplicate combinations merged)", plan.merged_duplicates);
  fmt::print("\n{:>4}  {:<12}  {:<32}  {}\n", "#", "hash", "trial", "axes");
  for (size_t i = 0; i < plan.trials.size(); ++i) {
    const auto& t = plan.trials[i];
    fmt::print("{:>4}  {:<12}  {:<32}  {}\n", i + 1, t.hash.substr(0, 12), t.label,
               short_assignment(t.assignment));
  }
}

void add_plan_command(CLI::App& app) {
  struct Options {
    std::string sweep;
    bool json = false;
  };
  auto opt = std::make_shared<Options>();
  auto* cmd = app.add_subcommand("plan", "Expand a sweep spec into its trials");
  cmd->add_option("SWEEP", opt->sweep, "Sweep YAML (default: the embedded demo sweep)");
  cmd->add_flag("--json", opt->json, "Print JSON");
  cmd->callback([opt] {
    const SweepSpec spec = opt->sweep.empty() ? embedded_demo_sweep() : load_sweep(opt->sweep);
    print_plan(plan_sweep(spec), opt->json);
  });
}

}  // namespace locsweep::cli
