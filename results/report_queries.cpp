#include "results/report_queries.hpp"

#include <yaml-cpp/yaml.h>

#include <nlohmann/json.hpp>

#include "common/error.hpp"
#include "results/stored_json.hpp"

namespace locsweep::report {
using nlohmann::json;

SweepInfo read_sweep_info(Database& db, const std::string& name) {
  auto stmt = db.prepare(
      "SELECT name, spec_yaml, spec_file, created_at, updated_at FROM sweeps WHERE name = ?");
  stmt.bind(1, name);
  if (!stmt.step()) throw InputError("no sweep named '" + name + "' in '" + db.path() + "'");
  SweepInfo info{stmt.text(0), stmt.text(1), stmt.text(2), stmt.text(3), stmt.text(4), ""};
  try {
    const YAML::Node spec = YAML::Load(info.spec_yaml);
    if (spec["description"] && spec["description"].IsScalar())
      info.description = spec["description"].as<std::string>();
  } catch (const YAML::Exception&) {
    // A spec that no longer parses still gets a report; it just has no description.
  }
  return info;
}

// The done trials of each table row (the same RowConfigurations::of),
// lowest seed first.
std::vector<std::vector<TrialRef>> trials_of_rows(Database& db, const ResultsTable& table) {
  std::map<std::string, size_t> row_of;
  for (size_t i = 0; i < table.rows.size(); ++i) row_of[table.rows[i].canonical.dump()] = i;
  std::vector<std::vector<TrialRef>> out(table.rows.size());
  auto stmt = db.prepare(
      "SELECT t.hash, t.seed, t.canonical_json FROM sweep_trials st JOIN sweeps s ON s.id = "
      "st.sweep_id JOIN trials t ON t.hash = st.trial_hash WHERE s.name = ? AND t.status = "
      "'done' ORDER BY t.seed, st.position");
  stmt.bind(1, table.sweep);
  RowConfigurations configurations(db);
  while (stmt.step()) {
    const json canonical = parse_stored_json(db, stmt.text(2), "trials.canonical_json");
    if (const auto it = row_of.find(configurations.of(canonical).dump()); it != row_of.end())
      out[it->second].push_back({stmt.text(0), static_cast<int>(stmt.integer(1))});
  }
  return out;
}

LossCurve mean_curve(Database& db, const std::vector<TrialRef>& trials, const std::string& split) {
  std::map<int64_t, std::pair<double, int>> sums;
  auto stmt = db.prepare(
      "SELECT step, loss FROM step_metrics WHERE trial_hash = ? AND split = ? AND loss IS NOT "
      "NULL ORDER BY step");
  for (const auto& t : trials) {
    stmt.bind(1, t.hash).bind(2, split);
    while (stmt.step()) {
      auto& [sum, n] = sums[stmt.integer(0)];
      sum += stmt.real(1);
      ++n;
    }
    stmt.reset();
  }
  std::map<int64_t, double> out;
  for (const auto& [step, s] : sums) out[step] = s.first / s.second;
  return out;
}

std::optional<RecordedFile> attention_artifact(Database& db, const std::string& trial_hash) {
  auto stmt = db.prepare(
      "SELECT path, sha256 FROM artifacts WHERE trial_hash = "
      "? AND kind = 'attention'");
  stmt.bind(1, trial_hash);
  if (!stmt.step()) return std::nullopt;
  return RecordedFile{stmt.text(0), stmt.text(1)};
}

std::vector<std::vector<std::string>> read_runs(Database& db, const std::string& sweep) {
  auto stmt = db.prepare(
      "SELECT r.id, r.host, r.ranks, r.slurm_job_id, "
      "r.started_at, r.ended_at, r.status FROM "
      "runs r JOIN sweeps s ON s.id = r.sweep_id WHERE s.name "
      "= ? ORDER BY r.id");
  stmt.bind(1, sweep);
  std::vector<std::vector<std::string>> rows;
  while (stmt.step())
    rows.push_back({std::to_string(stmt.integer(0)), stmt.text(1), std::to_string(stmt.integer(2)),
                    stmt.text(3), stmt.text(4), stmt.text(5), stmt.text(6)});
  return rows;
}

}  // namespace locsweep::report
