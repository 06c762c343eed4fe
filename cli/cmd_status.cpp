// `locsweep status --db FILE [--sweep NAME]`: progress of the sweeps in a results database.
// (Slurm job states are added by the slurm module's status support.)
#include <fmt/format.h>

#include <memory>
#include <nlohmann/json.hpp>

#include "cli/commands.hpp"
#include "results/queries.hpp"

namespace locsweep::cli {

void add_status_command(CLI::App& app) {
  struct Options {
    std::string db, sweep;
    bool json = false;
  };
  auto o = std::make_shared<Options>();
  auto* cmd = app.add_subcommand("status", "Show the progress of the sweeps in a results database");
  cmd->add_option("--db", o->db, "Results database")->required();
  cmd->add_option("--sweep", o->sweep, "Only this sweep");
  cmd->add_flag("--json", o->json, "Print JSON");
  cmd->callback([o] {
    Database db = open_results_read_only(o->db);
    const auto sweeps = sweep_progress(db, o->sweep);
    nlohmann::json out = nlohmann::json::array();
    for (const auto& p : sweeps) {
      if (o->json) {
        out.push_back({{"sweep", p.name}, {"done", p.done}, {"running", p.running}, {"failed", p.failed},
                       {"pending", p.pending}, {"last_run_status", p.last_run_status.value_or("")},
                       {"slurm_jobs", p.slurm_jobs}});
        continue;
      }
      const int total = p.done + p.running + p.failed + p.pending;
      fmt::print("{}: {}/{} done, {} running, {} failed, {} pending", p.name, p.done, total, p.running, p.failed,
                 p.pending);
      if (p.last_run_status)
        fmt::print("; last run {} on {} (started {}, heartbeat {})", *p.last_run_status, p.last_run_host.value_or("?"),
                   p.last_run_started.value_or("?"), p.last_run_heartbeat.value_or("?"));
      fmt::print("\n");
    }
    if (o->json) fmt::print("{}\n", out.dump(2));
  });
}

}  // namespace locsweep::cli
