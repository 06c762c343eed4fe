// `locsweep results --db FILE [--sweep NAME] [--where key=value]... [--sort COL] [--per-layer]
//   [--format table|csv|json|markdown]`: the paper-style table of a sweep; for a sweep with a
//   search, its points (sorted by the key, the best marked) and the objective's curve
//   (table, markdown), or "search" in the JSON (results/search_display.hpp).
// `locsweep results --db FILE --sql "SELECT ..."`: a read-only query of the database.
// `locsweep results --db FILE --curves [--format csv|json]`: the loss curves, long format.
// csv and json are pandas-ready (full precision, missing values empty or null): table.hpp.
#include <fmt/format.h>

#include <memory>
#include <nlohmann/json.hpp>
#include <optional>

#include "cli/commands.hpp"
#include "results/curves.hpp"
#include "results/queries.hpp"
#include "results/search_display.hpp"
#include "results/sql_query.hpp"
#include "results/table.hpp"

namespace locsweep::cli {

namespace {

// The sweep's search for the table and JSON formats (csv stays one table); a recorded spec
// that cannot be replayed is said on stderr, and the table is still printed.
std::optional<SearchView> search_of(Database& db, const std::string& sweep, TableFormat format) {
  if (format == TableFormat::csv) return std::nullopt;
  try {
    if (const auto progress = recorded_search(db, sweep)) return search_view(*progress);
  } catch (const InputError& e) {
    fmt::print(stderr, "{}\n", e.what());
  }
  return std::nullopt;
}

}  // namespace

void add_results_command(CLI::App& app) {
  struct Options {
    std::string db, sweep, sort = "position", format = "table", sql;
    std::vector<std::string> where;
    bool per_layer = false, descending = false, curves = false;
    SqlLimits limits;
  };
  auto o = std::make_shared<Options>();
  auto* cmd =
      app.add_subcommand("results", "The results table of a sweep, or a read-only SQL query");
  add_db_option(cmd, o->db, "Results database");
  cmd->add_option("--sweep", o->sweep, "Sweep name (default: the only one)");
  cmd->add_option("--where", o->where,
                  "Filter trials: key=value (mechanism, schedule, seed, train.lr, ...)");
  cmd->add_option("--sort", o->sort, "position, ppl, ratio, gap, beta or config");
  cmd->add_flag("--desc", o->descending, "Sort descending");
  cmd->add_flag("--per-layer", o->per_layer, "One row per configuration and layer");
  auto* format_option = cmd->add_option(
      "--format", o->format,
      "table, csv, json or markdown (csv and json: full precision, missing values empty/null)");
  cmd->add_flag("--curves", o->curves,
                "The loss curves in long format (sweep, trial_hash, label, grid keys, step, "
                "split, metric, value) as csv (the default here) or json");
  cmd->add_option("--sql", o->sql, "Run one read-only SQL statement instead");
  cmd->add_option("--sql-timeout", o->limits.timeout_s,
                  "Seconds a --sql query may run before it is stopped (exit 2)")
      ->check(CLI::Range(0.001, 86400.0));
  cmd->add_option("--max-rows", o->limits.max_rows,
                  "Rows a --sql query may return; more is an error (exit 2), not a cut")
      ->check(CLI::Range(std::size_t{1}, std::size_t{100000000}));
  cmd->callback([o, format_option] {
    if (o->curves && format_option->count() == 0) o->format = "csv";
    const TableFormat format = table_format_from_string(o->format);
    if (!o->sql.empty()) {
      fmt::print("{}", run_read_only_sql(o->db, o->sql, format, o->limits));
      return;
    }
    ResultsQuery q;
    q.sweep = o->sweep;
    q.sort = o->sort;
    q.descending = o->descending;
    for (const auto& w : o->where) {
      const auto eq = w.find('=');
      if (eq == std::string::npos || eq == 0)
        throw InputError("--where '" + w + "': write key=value, e.g. --where mechanism=block");
      q.where.emplace_back(w.substr(0, eq), w.substr(eq + 1));
    }
    Database db = open_results_read_only(o->db);
    if (o->curves) {
      if (o->per_layer) throw InputError("--curves and --per-layer: choose one");
      write_curves(db, q, format, stdout);
      return;
    }
    const ResultsTable table = build_results_table(db, q);
    const std::string rendered = render_results(table, format, o->per_layer);
    const std::optional<SearchView> search = search_of(db, table.sweep, format);
    if (!search) return fmt::print("{}", rendered);
    if (format == TableFormat::json) {
      auto out = nlohmann::ordered_json::parse(rendered);
      out["search"] = search_json(*search);
      return fmt::print("{}\n", out.dump(2));
    }
    const std::string shown = search_text(*search) + "\n" + search_curve_text(*search);
    if (format == TableFormat::markdown) return fmt::print("{}\n```\n{}```\n", rendered, shown);
    fmt::print("{}\n{}", rendered, shown);
  });
}

}  // namespace locsweep::cli
