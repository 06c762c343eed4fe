// `locsweep plan [SWEEP.yaml] [KEY=VALUE...] [--db FILE] [--json]`: the trials a sweep expands
// into (without SWEEP, the embedded demo sweep's); with --db, their recorded states and which
// input changed since the database's trials were recorded. A sweep with a `search:` also shows
// the search (results/search_display.hpp): as specified, and where it stands in the database
// (its points, the pending ones, the best so far), or without one its first points; its
// points' trials are listed with the others.
#include <fmt/format.h>

#include <memory>
#include <nlohmann/json.hpp>
#include <optional>

#include "cli/commands.hpp"
#include "cli/embedded.hpp"
#include "results/queries.hpp"
#include "results/search_display.hpp"
#include "results/search_progress.hpp"
#include "sweeps/content_identity.hpp"
#include "sweeps/overrides.hpp"
#include "sweeps/plan.hpp"
#include "sweeps/search_plan.hpp"

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

// What the database's gpt2 trials of the sweep named `sweep` read: the inputs as written and
// their digests (all else left default), each distinct combination once. Read by SQL, not by
// parsing every configuration: re-planning a 100,000-trial sweep must stay fast.
struct RecordedInputs {
  std::vector<TrialConfig> configs;
  int64_t path_identified = 0;  // trials recorded before identity by content (no digests)
};
RecordedInputs recorded_inputs(Database& db, const std::string& sweep) {
  auto stmt = db.prepare(
      "SELECT json_extract(t.config_json, '$.data.corpus'), "
      "json_extract(t.config_json, '$.data.tokenizer'), json_extract(t.config_json, "
      "'$.model.init'), json_extract(t.config_json, '$.inputs.corpus'), "
      "json_extract(t.config_json, '$.inputs.tokenizer'), json_extract(t.config_json, "
      "'$.inputs.init'), count(*) FROM sweep_trials st JOIN sweeps s ON s.id = st.sweep_id JOIN "
      "trials t "
      "ON t.hash = st.trial_hash WHERE s.name = ? AND t.kind = 'gpt2' GROUP BY 1, 2, 3, 4, 5, 6");
  stmt.bind(1, sweep);
  RecordedInputs recorded;
  const auto text = [&](int column) { return stmt.is_null(column) ? "" : stmt.text(column); };
  while (stmt.step()) {
    TrialConfig& c = recorded.configs.emplace_back();
    c.data.corpus = text(0);
    c.data.tokenizer = text(1);
    c.model.init = text(2);
    c.inputs = {text(3), text(4), text(5)};
    if (c.inputs.corpus.empty()) recorded.path_identified += stmt.integer(6);
  }
  return recorded;
}

// Why planned trials are new although the sweep is recorded: inputs whose content changed,
// and trials recorded before identity by content (stderr; stdout stays the plan).
void print_input_changes(const Plan& plan, Database& db,
                         const std::map<std::string, TrialState>& states) {
  std::vector<const TrialConfig*> planned_new;
  for (const auto& t : plan.trials)
    if (!states.count(t.hash)) planned_new.push_back(&t.config);
  if (planned_new.empty()) return;
  const RecordedInputs recorded = recorded_inputs(db, plan.sweep);
  for (const InputChange& change : changed_inputs(recorded.configs, planned_new))
    fmt::print(stderr, "{}\n", change.text());
  if (const int64_t old = recorded.path_identified)
    fmt::print(stderr,
               "{} of the DB's trials of sweep '{}' were identified by path, not content "
               "(recorded by a locsweep before trial identity by content): none of them is "
               "reused\n",
               old, plan.sweep);
}

}  // namespace

// `states` (hash -> recorded state) is empty without --db: then no status column. `search`:
// the sweep's search (its points are in `plan`), shown after the trials and as "search" in
// the JSON.
void print_plan(const Plan& plan, bool json, const std::map<std::string, TrialState>* states,
                const SearchView* search) {
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
    if (search) out["search"] = search_json(*search);
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
  if (search) fmt::print("\n{}", search_text(*search));
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
  add_db_option(cmd, opt->db, "Results database: show which trials are new, done, failed, stopped",
                false);
  cmd->add_flag("--json", opt->json, "Print JSON");
  cmd->callback([opt] {
    if (looks_like_override(opt->sweep) && !std::filesystem::exists(opt->sweep)) {
      opt->overrides.insert(opt->overrides.begin(), opt->sweep);  // `plan KEY=VALUE`: the demo
      opt->sweep.clear();
    }
    const SweepSpec spec = opt->sweep.empty()
                               ? embedded_demo_sweep(opt->overrides)
                               : load_sweep_with_overrides(opt->sweep, opt->overrides);
    Plan plan = plan_sweep(spec);
    std::optional<Database> db;  // no database yet: every trial is new
    if (!opt->db.empty() && std::filesystem::exists(opt->db))
      db.emplace(open_results_read_only(opt->db));
    // A search: where it stands in the database (without one: its first points), and the
    // trials of every point it asked, as `run` registers them.
    std::optional<SearchView> search;
    if (spec.search) {
      const SearchProgress progress = search_progress(spec, db ? &*db : nullptr);
      plan = with_search_points(spec, std::move(plan), progress.state.asked);
      search = search_view(progress);
    }
    const SearchView* shown = search ? &*search : nullptr;
    if (opt->db.empty()) return print_plan(plan, opt->json, nullptr, shown);
    std::map<std::string, TrialState> states;
    if (db) {
      std::vector<std::string> hashes;
      for (const auto& t : plan.trials) hashes.push_back(t.hash);
      states = trial_states(*db, hashes);
      print_input_changes(plan, *db, states);
    }
    print_plan(plan, opt->json, &states, shown);
  });
}

}  // namespace locsweep::cli
