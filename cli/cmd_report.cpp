// `locsweep report --db FILE --out DIR [--sweep NAME]`: writes the HTML report of a sweep
// (DIR/index.html with inlined gnuplot SVG plots, and DIR/plots/) and prints its path. The
// database is opened read-only.
#include <fmt/format.h>

#include <memory>

#include "cli/commands.hpp"
#include "results/queries.hpp"
#include "results/report.hpp"

namespace locsweep::cli {

void add_report_command(CLI::App& app) {
  struct Options {
    std::string db, out, sweep;
  };
  auto o = std::make_shared<Options>();
  auto* cmd = app.add_subcommand(
      "report", "Write a self-contained HTML report (table and gnuplot plots) of a sweep");
  add_db_option(cmd, o->db, "Results database");
  cmd->add_option("--out", o->out, "Folder for index.html and plots/")->required();
  cmd->add_option("--sweep", o->sweep, "Sweep name (default: the only one)");
  cmd->callback([o] {
    Database db = open_results_read_only(o->db);
    fmt::print("{}\n", write_report(db, o->sweep, o->out).string());
  });
}

}  // namespace locsweep::cli
