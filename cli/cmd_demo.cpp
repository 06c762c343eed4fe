// `locsweep demo`: the main job on the embedded default sweep.
#include <memory>

#include "cli/commands.hpp"
#include "cli/embedded.hpp"
#include "results/queries.hpp"
#include "sweeps/plan.hpp"

#include <map>

namespace locsweep::cli {

void print_plan(const Plan& plan, bool json, const std::map<std::string, TrialState>* states);

void add_demo_command(CLI::App& app) {
  auto* cmd = app.add_subcommand("demo", "Run the embedded demo sweep (sweeps/demo.yaml)");
  cmd->callback([] { print_plan(plan_sweep(embedded_demo_sweep()), false, nullptr); });
}

}  // namespace locsweep::cli
