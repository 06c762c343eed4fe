// `locsweep schedule SPEC --layers L [--json]`: lambda per layer of a schedule.
#include <fmt/format.h>
#include <cstdio>
#include <memory>
#include <nlohmann/json.hpp>

#include "cli/commands.hpp"
#include "schedules/schedule.hpp"

namespace locsweep::cli {

void add_schedule_command(CLI::App& app) {
  struct Options {
    std::string spec;
    int layers = 12;
    bool json = false;
  };
  auto opt = std::make_shared<Options>();
  auto* cmd = app.add_subcommand("schedule", "Print lambda per layer of a locality schedule");
  cmd->add_option("SPEC", opt->spec,
                  std::string("Schedule: ") + std::string(schedule_syntax_help()))
      ->required();
  cmd->add_option("--layers,-L", opt->layers, "Number of layers")->check(CLI::Range(1, 10000));
  cmd->add_flag("--json", opt->json, "Print JSON");
  cmd->callback([opt] {
    const Schedule schedule = Schedule::parse(opt->spec);
    const auto lambdas = schedule.lambdas(opt->layers);
    if (opt->json) {
      nlohmann::json out = {
          {"schedule", schedule.canonical()}, {"layers", opt->layers}, {"lambda", lambdas}};
      fmt::print("{}\n", out.dump());
      return;
    }
    fmt::print("{} over {} layers\nlayer  lambda\n", schedule.canonical(), opt->layers);
    for (size_t l = 0; l < lambdas.size(); ++l) fmt::print("{:>5}  {:.4f}\n", l, lambdas[l]);
  });
}

}  // namespace locsweep::cli
