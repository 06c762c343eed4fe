// The paper-style results table of a sweep (`locsweep results`): one row per configuration
// (its trials over seeds), with validation perplexity mean, std and 95 % CI, the ratio to
// the distributed trial of the same seed, data and model, the share of the localist gap
// closed (SPEC.md "Metrics"), and attention entropy/in-block mass; plus a per-layer view.
// The statistics themselves are in results/statistics.hpp.
#pragma once

#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "results/sqlite.hpp"

namespace locsweep {

struct LayerRow {
  std::string config;
  int layer = 0;
  double lambda = 0, entropy_bits = 0, entropy_norm = 0, in_block_mass = 0, mean_distance = 0;
};

// A configuration's display names, built from its canonical configuration (no seed) and the
// grid axes it was given: full "block quintic lr=0.001" (a noop trial: "noop lr=..."), and
// without_schedule "block lr=0.001" (the report's series of one mechanism over schedules).
struct ConfigName {
  std::string full, without_schedule;
};
ConfigName config_name(const nlohmann::json& canonical, const nlohmann::json& assignment);

// The configuration a row aggregates over seeds: the canonical configuration without its seed,
// where an init from a base trial (model.init "trial:<hash>", staged sweeps) is replaced by
// {"base": the base's own row configuration} when the database holds the base, so the per-seed
// bases of one base configuration give one row, not one per seed. (The ratio's baseline still pairs
// trials of the same seed, hence the same base trial.) Each base is read from the database
// once per RowConfigurations, however many trials start from it.
class RowConfigurations {
 public:
  explicit RowConfigurations(Database& db) : db_(db) {}
  nlohmann::json of(const nlohmann::json& canonical);

 private:
  Database& db_;
  std::unordered_map<std::string, nlohmann::json> of_base_;  // base hash -> its configuration
};

struct ConfigRow {
  std::string config;  // ConfigName::full: "block quintic" plus other grid axes ("lr=0.001")
  std::string series;  // ConfigName::without_schedule: "block lr=0.001"
  // The base its trials start from (staged sweeps): "base pretrained seed=0", or
  // "base pretrained" when each seed has its own; empty: none.
  std::string base;
  std::string mechanism, schedule;
  std::optional<double> beta;
  double lambda_min = 0, lambda_max = 0;
  int seeds = 0;                                   // done trials aggregated
  double ppl_mean = 0, ppl_std = 0, ppl_ci95 = 0;  // CI: half-width, Student t
  std::optional<double> ratio;  // mean over seeds of PPL / PPL(distributed, same seed)
  std::optional<double> ratio_ci95;
  int ratio_seeds = 0;  // seeds with a distributed baseline: the ratio's sample size
  // percent: (R_loc - R) / (R_loc - 1) * 100; only where the localist ratio's 95 % CI is above 1
  std::optional<double> gap_closed;
  double entropy_first = 0, entropy_last = 0;  // bits, mean over heads (and seeds)
  double in_block_mass = 0;                    // mean over layers, heads, seeds
  int position = 0;                            // first appearance in the plan
  nlohmann::json canonical;                    // RowConfigurations::of its trials
  std::vector<LayerRow> layers;                // per layer, means over heads and seeds
};

struct ResultsTable {
  std::string sweep;
  int trials = 0, done = 0, running = 0, failed = 0, pending = 0;  // as `locsweep status` counts
  int stopped = 0;     // stopped early by ASHA: neither failed nor in the means (only done are)
  int unmeasured = 0;  // done trials without a validation perplexity (kind: noop): in no row
  std::vector<ConfigRow> rows;
};

struct ResultsQuery {
  std::string sweep;                                       // empty: the only sweep in the database
  std::vector<std::pair<std::string, std::string>> where;  // key=value filters on trials
  std::string sort = "position";  // position | ppl | ratio | gap | beta | config
  bool descending = false;
};

// Builds the table from the database; InputError for an unknown sweep, filter key or sort key.
ResultsTable build_results_table(Database& db, const ResultsQuery& query);

// The trials of the table's sweep that pass its --where filters, by hash, in plan order
// (what `results --curves` exports); the same errors as build_results_table.
struct SelectedTrials {
  std::string sweep;
  std::vector<std::string> hashes;
};
SelectedTrials select_trials(Database& db, const ResultsQuery& query);

// `table` and `markdown` are for people: rounded, "-" where a value is missing. `csv` and
// `json` are for programs (pandas): every number at full precision (it reads back as the
// same double), missing values empty (CSV) or null (JSON), λ as numeric lambda_min and
// lambda_max, and the 95 % confidence intervals as half-widths (ppl_ci95, ratio_ci95) and as
// bounds (*_ci95_low, *_ci95_high); a spread of fewer than two seeds is missing, not 0.
// Columns: docs/results-schema.md, "Exports for pandas".
enum class TableFormat { table, csv, json, markdown };
TableFormat table_format_from_string(const std::string& text);  // InputError if unknown
std::string render_results(const ResultsTable& table, TableFormat format, bool per_layer);

// A JSON value as an export's CSV cell: null empty, a string as it is, a number exact
// (exact_number), anything else as JSON text.
std::string csv_cell(const nlohmann::json& value);

}  // namespace locsweep
