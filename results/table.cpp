#include "results/table.hpp"

#include "results/schema.hpp"
#include "results/statistics.hpp"
#include "results/stored_json.hpp"
#include "results/text_table.hpp"
#include "schedules/schedule.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <numeric>
#include <set>

namespace locsweep {
using nlohmann::json;

namespace {

// A trial of the sweep as the table needs it.
struct Trial {
  std::string hash, label, status;
  int seed = 0, position = 0;
  double ppl = 0;  // validation perplexity; 0 when none was measured
  json canonical;
  ConfigName name;
  std::string base;      // the label of the trial it starts from; empty: none
  json configuration;    // RowConfigurations::of: canonical without the seed, bases by config
  std::string group;     // configuration.dump(): the trials of one row
  std::string baseline;  // canonical without seed and locality: same data, model, training
  std::vector<LayerRow> layers;  // per layer, averaged over heads
};

json without(json j, std::initializer_list<const char*> keys) {
  for (const char* k : keys) j.erase(k);
  return j;
}

// A string of the trial's locality section ("mechanism", "schedule"); nullopt for trials
// without one: a noop trial's canonical configuration has only kind, seed and noop.*.
std::optional<std::string> locality_value(const json& canonical, const char* key) {
  const auto section = canonical.find("locality");
  if (section == canonical.end() || !section->is_object()) return std::nullopt;
  const auto value = section->find(key);
  if (value == section->end() || !value->is_string()) return std::nullopt;
  return value->get<std::string>();
}

// A filter key's value for a trial: a column, or a dotted path into its canonical config.
std::optional<std::string> lookup(const Trial& t, const std::string& key) {
  if (key == "label") return t.label;
  if (key == "status") return t.status;
  if (key == "hash") return t.hash.substr(0, std::min<size_t>(t.hash.size(), 64));
  if (key == "mechanism" || key == "schedule") return locality_value(t.canonical, key.c_str());
  const json* node = &t.canonical;
  size_t start = 0;
  for (size_t dot;; start = dot + 1) {
    dot = key.find('.', start);
    const std::string part =
        key.substr(start, dot == std::string::npos ? std::string::npos : dot - start);
    if (!node->is_object() || !node->contains(part)) return std::nullopt;
    node = &(*node)[part];
    if (dot == std::string::npos) break;
  }
  return node->is_string() ? node->get<std::string>() : node->dump();
}

// The axes of a grid assignment other than seed, mechanism and schedule: " lr=0.001".
std::string other_axes(const json& assignment) {
  std::string out;
  for (const auto& [key, value] : assignment.items()) {
    if (key == "seed" || key == "locality.schedule" || key == "locality.mechanism") continue;
    out += " " + key.substr(key.rfind('.') + 1) + "=" +
           (value.is_string() ? value.get<std::string>() : value.dump());
  }
  return out;
}

bool value_matches(const std::string& actual, const std::string& wanted) {
  if (actual == wanted) return true;
  char* end = nullptr;
  const double a = std::strtod(actual.c_str(), &end);
  if (end == actual.c_str() || *end) return false;
  const double w = std::strtod(wanted.c_str(), &end);
  return end != wanted.c_str() && !*end && a == w;  // "5" matches 5.0
}

std::string list_of(const std::vector<std::string>& names) {
  std::string list;
  for (const auto& n : names) list += (list.empty() ? "" : ", ") + n;
  return list;
}

// The sweep the table is of: `wanted`, or the database's only sweep when it is empty.
std::string choose_sweep(Database& db, const std::string& wanted) {
  auto names = db.prepare("SELECT name FROM sweeps ORDER BY id");
  std::vector<std::string> all;
  while (names.step()) all.push_back(names.text(0));
  if (all.empty()) throw InputError("'" + db.path() + "' holds no sweeps yet");
  if (wanted.empty()) {
    if (all.size() > 1)
      throw InputError("'" + db.path() + "' holds several sweeps (" + list_of(all) +
                       "); choose one with --sweep");
    return all.front();
  }
  if (std::find(all.begin(), all.end(), wanted) == all.end())
    throw InputError("no sweep named '" + wanted + "' in '" + db.path() +
                     "' (it has: " + list_of(all) + ")");
  return wanted;
}

// A base's label without its seed ("base pretrained seed=0" -> "base pretrained"): trials
// of one configuration over seeds whose bases follow their seeds share it.
std::string without_seed(const std::string& label) {
  const size_t at = label.rfind(" seed=");
  return at == std::string::npos ? label : label.substr(0, at);
}

// The sweep's trials in plan order, with their configuration names and grouping keys.
std::vector<Trial> load_trials(Database& db, const std::string& sweep) {
  // trials.base_hash is there from schema version 3 on (an older database has no bases).
  const bool bases = has_column(db, "trials", "base_hash");
  auto stmt = db.prepare(
      std::string("SELECT t.hash, t.label, t.status, t.seed, st.position, t.val_ppl, "
                  "t.canonical_json, st.assignment_json, ") +
      (bases ? "COALESCE(b.label, '')" : "''") +
      " FROM sweep_trials st JOIN sweeps s ON s.id = st.sweep_id JOIN trials t ON t.hash = "
      "st.trial_hash " +
      (bases ? "LEFT JOIN trials b ON b.hash = t.base_hash " : "") +
      "WHERE s.name = ? ORDER BY st.position");
  stmt.bind(1, sweep);
  std::vector<Trial> trials;
  RowConfigurations configurations(db);
  while (stmt.step()) {
    Trial t;
    t.hash = stmt.text(0);
    t.label = stmt.text(1);
    t.status = stmt.text(2);
    t.seed = static_cast<int>(stmt.integer(3));
    t.position = static_cast<int>(stmt.integer(4));
    t.ppl = stmt.is_null(5) ? 0.0 : stmt.real(5);
    t.canonical = parse_stored_json(db, stmt.text(6), "trials.canonical_json");
    t.name = config_name(t.canonical,
                         parse_stored_json(db, stmt.text(7), "sweep_trials.assignment_json"));
    t.base = stmt.text(8);
    t.configuration = configurations.of(t.canonical);
    t.group = t.configuration.dump();
    json base = without(t.canonical, {"seed", "locality"});
    base["seed"] = t.seed;
    t.baseline = base.dump();
    trials.push_back(std::move(t));
  }
  return trials;
}

// Keeps the trials matching every key=value filter. Each key must be known for at least one
// trial, so typos are errors, not empty tables.
void apply_filters(std::vector<Trial>& trials,
                   const std::vector<std::pair<std::string, std::string>>& where,
                   const std::string& sweep) {
  for (const auto& [key, value] : where) {
    const bool known = std::any_of(trials.begin(), trials.end(),
                                   [&](const Trial& t) { return lookup(t, key).has_value(); });
    if (!known)
      throw InputError(
          "--where: no trial of sweep '" + sweep + "' has a value for '" + key +
          "' (valid: label, status, hash, mechanism, schedule, seed, or a config key such as "
          "train.lr or locality.kappa; noop trials have no locality keys)");
    std::erase_if(trials, [&](const Trial& t) {
      const auto v = lookup(t, key);
      return !v || !value_matches(*v, value);
    });
  }
}

void count_statuses(ResultsTable& table, const std::vector<Trial>& trials) {
  for (const auto& t : trials) {
    ++table.trials;
    if (t.status == "done")
      ++table.done;
    else if (t.status == "running")
      ++table.running;
    else if (t.status == "failed")
      ++table.failed;
    else if (t.status == "stopped")
      ++table.stopped;
    else
      ++table.pending;
  }
}

// Each trial's per-layer attention metrics, averaged over heads.
void load_layers(Database& db, std::vector<Trial>& trials) {
  auto heads = db.prepare(
      "SELECT layer, avg(lambda), avg(entropy_bits), avg(entropy_norm), avg(in_block_mass), "
      "avg(mean_distance) "
      "FROM head_metrics WHERE trial_hash = ? GROUP BY layer ORDER BY layer");
  for (auto& t : trials) {
    heads.bind(1, t.hash);
    while (heads.step())
      t.layers.push_back({"", static_cast<int>(heads.integer(0)), heads.real(1), heads.real(2),
                          heads.real(3), heads.real(4), heads.real(5)});
    heads.reset();
  }
}

// The perplexity of each done distributed trial by its baseline key (the same seed, data,
// model and training): the denominators of the ratios.
std::map<std::string, double> distributed_perplexities(const std::vector<Trial>& trials) {
  std::map<std::string, double> out;
  for (const auto& t : trials)
    if (t.status == "done" && locality_value(t.canonical, "mechanism") == "none")
      out[t.baseline] = t.ppl;
  return out;
}

// The done trials with a perplexity, by configuration (canonical without seed); counts the
// done trials without one (noop trials measure none) in `unmeasured`.
std::map<std::string, std::vector<const Trial*>> measured_groups(const std::vector<Trial>& trials,
                                                                 int& unmeasured) {
  std::map<std::string, std::vector<const Trial*>> groups;
  for (const auto& t : trials) {
    if (t.status != "done") continue;
    if (t.ppl > 0)
      groups[t.group].push_back(&t);
    else
      ++unmeasured;
  }
  return groups;
}

// The polynomial exponent of a canonical schedule string, parsed by the one schedule parser.
std::optional<double> schedule_beta(const std::string& schedule) {
  if (schedule.empty()) return std::nullopt;
  try {
    const Schedule s = Schedule::parse(schedule);
    if (s.kind() == Schedule::Kind::polynomial) return s.beta();
  } catch (const ScheduleError&) {
    // Not a schedule this version can read: the row just has no beta.
  }
  return std::nullopt;
}

// What the configuration is: its name, mechanism, schedule, beta and plan position.
void describe(ConfigRow& row, const Trial& first) {
  row.config = first.name.full;
  row.series = first.name.without_schedule;
  row.mechanism = locality_value(first.canonical, "mechanism").value_or("");
  row.schedule = locality_value(first.canonical, "schedule").value_or("");
  row.beta = schedule_beta(row.schedule);
  row.canonical = first.configuration;
  row.position = first.position;
}

// The base the configuration's trials start from: one trial's label, or without the seed when
// each seed has its own.
void describe_base(ConfigRow& row, const std::vector<const Trial*>& members) {
  row.base = members.front()->base;
  for (const Trial* t : members)
    if (t->base != row.base) row.base = without_seed(row.base);
}

// Perplexity over seeds, and the ratio to the distributed trial of each seed.
void aggregate_perplexity(ConfigRow& row, const std::vector<const Trial*>& members,
                          const std::map<std::string, double>& distributed) {
  std::vector<double> ppl, ratios;
  for (const Trial* t : members) {
    ppl.push_back(t->ppl);
    if (auto it = distributed.find(t->baseline); it != distributed.end())
      ratios.push_back(stats::ratio(t->ppl, it->second));
  }
  const stats::Summary p = stats::summarize(ppl);
  row.ppl_mean = p.mean;
  row.ppl_std = p.std;
  row.ppl_ci95 = p.ci95;
  if (!ratios.empty()) {
    const stats::Summary r = stats::summarize(ratios);
    row.ratio = r.mean;
    row.ratio_ci95 = r.ci95;
    row.ratio_seeds = static_cast<int>(ratios.size());
  }
}

// Entropy of the first and last layer, in-block mass and the lambda range, over seeds.
void aggregate_attention(ConfigRow& row, const std::vector<const Trial*>& members) {
  const double n = static_cast<double>(members.size());
  double ent_first = 0, ent_last = 0, mass = 0;
  row.lambda_min = 1;
  row.lambda_max = 0;
  for (const Trial* t : members) {
    if (t->layers.empty()) continue;
    ent_first += t->layers.front().entropy_bits;
    ent_last += t->layers.back().entropy_bits;
    double m = 0;
    for (const auto& l : t->layers) {
      m += l.in_block_mass;
      row.lambda_min = std::min(row.lambda_min, l.lambda);
      row.lambda_max = std::max(row.lambda_max, l.lambda);
    }
    mass += m / static_cast<double>(t->layers.size());
  }
  if (row.lambda_min > row.lambda_max) row.lambda_min = row.lambda_max = 0;
  row.entropy_first = ent_first / n;
  row.entropy_last = ent_last / n;
  row.in_block_mass = mass / n;
}

// Per layer (the layers of the first trial), means over seeds.
void aggregate_layers(ConfigRow& row, const std::vector<const Trial*>& members) {
  const double n = static_cast<double>(members.size());
  for (const auto& l : members.front()->layers) {
    LayerRow lr{row.config, l.layer, 0, 0, 0, 0, 0};
    for (const Trial* t : members)
      for (const auto& tl : t->layers)
        if (tl.layer == l.layer) {
          lr.lambda += tl.lambda / n;
          lr.entropy_bits += tl.entropy_bits / n;
          lr.entropy_norm += tl.entropy_norm / n;
          lr.in_block_mass += tl.in_block_mass / n;
          lr.mean_distance += tl.mean_distance / n;
        }
    row.layers.push_back(lr);
  }
}

// One row of the table from the done, measured trials of one configuration.
ConfigRow aggregate(const std::vector<const Trial*>& members,
                    const std::map<std::string, double>& distributed) {
  ConfigRow row;
  describe(row, *members.front());
  describe_base(row, members);
  row.seeds = static_cast<int>(members.size());
  aggregate_perplexity(row, members, distributed);
  aggregate_attention(row, members);
  aggregate_layers(row, members);
  return row;
}

// A row's localist ratio, as the gap-closed rule needs it.
struct LocalistRatio {
  double mean = 0, ci95 = 0;
  int n = 0;
  bool significant() const { return stats::significantly_above_one(mean, ci95, n); }
};

// Gap closed: against the uniform localist configuration of the same mechanism and parameters,
// only where that localist model is significantly worse than the distributed one (its ratio's
// 95 % CI lies above 1), else "-". The distributed row closes 100 % of a gap where a localist
// configuration of the same data, model and training has a significant one.
void fill_gap_closed(std::vector<ConfigRow>& rows) {
  std::map<std::string, LocalistRatio> localist_of;  // by canonical configuration without seed
  std::set<std::string> significant_gaps;            // by canonical without seed and locality
  for (const auto& row : rows) {
    if (!row.ratio || row.schedule != "localist") continue;
    const LocalistRatio l{*row.ratio, row.ratio_ci95.value_or(0.0), row.ratio_seeds};
    localist_of[row.canonical.dump()] = l;
    if (l.significant()) significant_gaps.insert(without(row.canonical, {"locality"}).dump());
  }
  for (auto& row : rows) {
    if (!row.ratio) continue;
    if (row.mechanism == "none") {
      if (significant_gaps.count(without(row.canonical, {"locality"}).dump()))
        row.gap_closed = 100.0;
      continue;
    }
    json localist = row.canonical;
    localist["locality"]["schedule"] = "localist";
    if (const auto it = localist_of.find(localist.dump()); it != localist_of.end())
      row.gap_closed =
          stats::gap_closed(*row.ratio, it->second.mean, it->second.ci95, it->second.n);
  }
}

void sort_rows(std::vector<ConfigRow>& rows, const ResultsQuery& q) {
  static const std::set<std::string> sorts = {"position", "ppl", "ratio", "gap", "beta", "config"};
  if (!sorts.count(q.sort))
    throw InputError("--sort: unknown column '" + q.sort +
                     "' (valid: position, ppl, ratio, gap, beta, config)");
  auto key = [&](const ConfigRow& r) -> double {
    if (q.sort == "ppl") return r.ppl_mean;
    if (q.sort == "ratio") return r.ratio.value_or(INFINITY);
    if (q.sort == "gap") return r.gap_closed.value_or(-INFINITY);
    if (q.sort == "beta") return r.beta.value_or(r.schedule == "localist" ? 1e9 : -1.0);
    return r.position;
  };
  std::stable_sort(rows.begin(), rows.end(), [&](const ConfigRow& a, const ConfigRow& b) {
    if (q.sort == "config") return q.descending ? a.config > b.config : a.config < b.config;
    return q.descending ? key(a) > key(b) : key(a) < key(b);
  });
}

// Says why done trials are missing from the rows; empty when none are.
std::string unmeasured_note(const ResultsTable& t) {
  if (t.unmeasured == 0) return "";
  return fmt::format(
      "\n{} done trial{} without a validation perplexity (kind: noop measures none) {} in no "
      "row; `locsweep status` counts them\n",
      t.unmeasured, t.unmeasured == 1 ? "" : "s", t.unmeasured == 1 ? "is" : "are");
}

// Says why a row with a ratio has no gap closed; empty when every such row has one.
std::string gap_note(const ResultsTable& t) {
  const bool any = std::any_of(t.rows.begin(), t.rows.end(),
                               [](const ConfigRow& r) { return r.ratio && !r.gap_closed; });
  if (!any) return "";
  return "\ngap_closed_pct \"-\": its localist configuration is not significantly worse than "
         "the distributed one (the 95 % CI of its ratio reaches 1, or fewer than two seeds)\n";
}

std::string fmt_opt(const std::optional<double>& v, const char* spec) {
  return v ? fmt::format(fmt::runtime(spec), *v) : std::string("-");
}

}  // namespace

json RowConfigurations::of(const json& canonical) {
  json out = without(canonical, {"seed"});
  const json* init = nullptr;
  if (const auto model = out.find("model"); model != out.end() && model->is_object())
    if (const auto it = model->find("init"); it != model->end() && it->is_string()) init = &*it;
  const std::string prefix = "trial:";
  if (!init || init->get<std::string>().rfind(prefix, 0) != 0) return out;
  const std::string base_hash = init->get<std::string>().substr(prefix.size());
  auto known = of_base_.find(base_hash);
  if (known == of_base_.end()) {
    auto stmt = db_.prepare("SELECT canonical_json FROM trials WHERE hash = ?");
    stmt.bind(1, base_hash);
    json base_configuration;  // null: a base this database does not hold (the trial's own init)
    if (stmt.step())
      base_configuration = of(parse_stored_json(db_, stmt.text(0), "trials.canonical_json"));
    known = of_base_.emplace(base_hash, std::move(base_configuration)).first;
  }
  if (!known->second.is_null()) out["model"]["init"] = json{{"base", known->second}};
  return out;
}

ConfigName config_name(const json& canonical, const json& assignment) {
  const auto mechanism = locality_value(canonical, "mechanism");
  const auto schedule = locality_value(canonical, "schedule");
  const std::string head = mechanism ? *mechanism : canonical.value("kind", std::string("trial"));
  const std::string axes = other_axes(assignment);
  return {head + (schedule ? " " + *schedule : "") + axes, head + axes};
}

TableFormat table_format_from_string(const std::string& text) {
  if (text == "table") return TableFormat::table;
  if (text == "csv") return TableFormat::csv;
  if (text == "json") return TableFormat::json;
  if (text == "markdown") return TableFormat::markdown;
  throw InputError("unknown --format '" + text + "' (valid: table, csv, json, markdown)");
}

SelectedTrials select_trials(Database& db, const ResultsQuery& q) {
  SelectedTrials selected;
  selected.sweep = choose_sweep(db, q.sweep);
  std::vector<Trial> trials = load_trials(db, selected.sweep);
  apply_filters(trials, q.where, selected.sweep);
  for (auto& t : trials) selected.hashes.push_back(std::move(t.hash));
  return selected;
}

ResultsTable build_results_table(Database& db, const ResultsQuery& q) {
  ResultsTable table;
  table.sweep = choose_sweep(db, q.sweep);
  std::vector<Trial> trials = load_trials(db, table.sweep);
  apply_filters(trials, q.where, table.sweep);
  count_statuses(table, trials);
  load_layers(db, trials);
  const auto distributed = distributed_perplexities(trials);
  for (const auto& [group, members] : measured_groups(trials, table.unmeasured))
    table.rows.push_back(aggregate(members, distributed));
  fill_gap_closed(table.rows);
  sort_rows(table.rows, q);
  return table;
}

namespace {

// Whether any row starts from a base (a staged sweep): only then is there a base column.
bool has_bases(const ResultsTable& t) {
  return std::any_of(t.rows.begin(), t.rows.end(),
                     [](const ConfigRow& r) { return !r.base.empty(); });
}

std::vector<std::string> column_names(bool per_layer, bool bases) {
  if (per_layer)
    return {"config",       "layer",         "lambda",       "entropy_bits",
            "entropy_norm", "in_block_mass", "mean_distance"};
  std::vector<std::string> names = {
      "config",         "mechanism",     "schedule",     "beta",         "lambda",
      "seeds",          "ppl",           "ppl_std",      "ppl_ci95",     "ratio",
      "gap_closed_pct", "entropy_first", "entropy_last", "in_block_mass"};
  if (bases) names.insert(names.begin() + 1, "base");
  return names;
}

// The text cells of the table or the per-layer view, in column_names order.
std::vector<std::vector<std::string>> text_cells(const ResultsTable& t, bool per_layer) {
  std::vector<std::vector<std::string>> cells;
  if (per_layer) {
    for (const auto& r : t.rows)
      for (const auto& l : r.layers)
        cells.push_back(
            {l.config, std::to_string(l.layer), fmt::format("{:.4f}", l.lambda),
             fmt::format("{:.3f}", l.entropy_bits), fmt::format("{:.3f}", l.entropy_norm),
             fmt::format("{:.3f}", l.in_block_mass), fmt::format("{:.2f}", l.mean_distance)});
    return cells;
  }
  for (const auto& r : t.rows)
    cells.push_back({r.config, r.mechanism, r.schedule, fmt_opt(r.beta, "{:g}"),
                     fmt::format("{:.2g}-{:.2g}", r.lambda_min, r.lambda_max),
                     std::to_string(r.seeds), fmt::format("{:.3f}", r.ppl_mean),
                     fmt::format("{:.3f}", r.ppl_std), fmt::format("{:.3f}", r.ppl_ci95),
                     fmt_opt(r.ratio, "{:.3f}"), fmt_opt(r.gap_closed, "{:.1f}"),
                     fmt::format("{:.3f}", r.entropy_first), fmt::format("{:.3f}", r.entropy_last),
                     fmt::format("{:.3f}", r.in_block_mass)});
  if (has_bases(t))
    for (size_t i = 0; i < cells.size(); ++i)
      cells[i].insert(cells[i].begin() + 1, t.rows[i].base.empty() ? "-" : t.rows[i].base);
  return cells;
}

// The pandas-ready export (CSV and JSON): column names and one cell per column for each row.
struct Export {
  std::vector<std::string> columns;
  std::vector<std::vector<json>> rows;
};

// A value that is missing where it is absent or not finite (null: empty in CSV).
json number_or_null(const std::optional<double>& v) {
  return v && std::isfinite(*v) ? json(*v) : json(nullptr);
}

// A spread (std, CI half-width) of n values: missing for fewer than two, where it is not 0 but
// unmeasured.
std::optional<double> spread(double value, int n) {
  return n >= 2 ? std::optional<double>(value) : std::nullopt;
}

Export per_layer_export(const ResultsTable& t) {
  Export e{{"config", "mechanism", "schedule", "beta", "layer", "lambda", "entropy_bits",
            "entropy_norm", "in_block_mass", "mean_distance"},
           {}};
  for (const auto& r : t.rows)
    for (const auto& l : r.layers)
      e.rows.push_back({l.config, r.mechanism, r.schedule, number_or_null(r.beta), l.layer,
                        number_or_null(l.lambda), number_or_null(l.entropy_bits),
                        number_or_null(l.entropy_norm), number_or_null(l.in_block_mass),
                        number_or_null(l.mean_distance)});
  return e;
}

Export summary_export(const ResultsTable& t) {
  Export e{{"config",         "base",           "mechanism",
            "schedule",       "beta",           "lambda_min",
            "lambda_max",     "seeds",          "ppl",
            "ppl_std",        "ppl_ci95",       "ppl_ci95_low",
            "ppl_ci95_high",  "ratio",          "ratio_seeds",
            "ratio_ci95",     "ratio_ci95_low", "ratio_ci95_high",
            "gap_closed_pct", "entropy_first",  "entropy_last",
            "in_block_mass"},
           {}};
  for (const auto& r : t.rows) {
    const auto ppl_ci = spread(r.ppl_ci95, r.seeds);
    const auto ratio_ci =
        r.ratio && r.ratio_ci95 ? spread(*r.ratio_ci95, r.ratio_seeds) : std::nullopt;
    const bool layers = !r.layers.empty();  // no head metrics: no λ, entropy or mass
    auto measured = [&](double v) { return layers ? json(v) : json(nullptr); };
    e.rows.push_back({r.config,
                      r.base.empty() ? json(nullptr) : json(r.base),
                      r.mechanism,
                      r.schedule,
                      number_or_null(r.beta),
                      measured(r.lambda_min),
                      measured(r.lambda_max),
                      r.seeds,
                      number_or_null(r.ppl_mean),
                      number_or_null(spread(r.ppl_std, r.seeds)),
                      number_or_null(ppl_ci),
                      number_or_null(ppl_ci ? std::optional(r.ppl_mean - *ppl_ci) : std::nullopt),
                      number_or_null(ppl_ci ? std::optional(r.ppl_mean + *ppl_ci) : std::nullopt),
                      number_or_null(r.ratio),
                      r.ratio_seeds,
                      number_or_null(ratio_ci),
                      number_or_null(ratio_ci ? std::optional(*r.ratio - *ratio_ci) : std::nullopt),
                      number_or_null(ratio_ci ? std::optional(*r.ratio + *ratio_ci) : std::nullopt),
                      number_or_null(r.gap_closed),
                      measured(r.entropy_first),
                      measured(r.entropy_last),
                      measured(r.in_block_mass)});
  }
  return e;
}

std::string export_csv(const Export& e) {
  std::string out = csv_line(e.columns);
  std::vector<std::string> cells;
  for (const auto& row : e.rows) {
    cells.clear();
    for (const auto& cell : row) cells.push_back(csv_cell(cell));
    out += csv_line(cells);
  }
  return out;
}

nlohmann::ordered_json export_json(const ResultsTable& t, const Export& e) {
  nlohmann::ordered_json rows = nlohmann::ordered_json::array();
  for (const auto& row : e.rows) {
    nlohmann::ordered_json record = nlohmann::ordered_json::object();
    for (size_t i = 0; i < e.columns.size(); ++i) record[e.columns[i]] = row[i];
    rows.push_back(std::move(record));
  }
  return {{"sweep", t.sweep},     {"trials", t.trials},         {"done", t.done},
          {"running", t.running}, {"failed", t.failed},         {"pending", t.pending},
          {"stopped", t.stopped}, {"unmeasured", t.unmeasured}, {"rows", std::move(rows)}};
}

}  // namespace

std::string csv_cell(const json& value) {
  if (value.is_null()) return "";
  if (value.is_string()) return value.get<std::string>();
  if (value.is_number_float()) return exact_number(value.get<double>());
  return value.dump();
}

std::string render_results(const ResultsTable& t, TableFormat format, bool per_layer) {
  if (format == TableFormat::json || format == TableFormat::csv) {
    const Export e = per_layer ? per_layer_export(t) : summary_export(t);
    if (format == TableFormat::csv) return export_csv(e);
    return export_json(t, e).dump(2) + "\n";
  }
  const auto header = column_names(per_layer, has_bases(t));
  const auto cells = text_cells(t, per_layer);
  const bool md = format == TableFormat::markdown;
  return fmt::format("{}sweep {}: {} trials, {} done, {} running, {} failed, {} pending{}{}\n\n",
                     md ? "**" : "", t.sweep, t.trials, t.done, t.running, t.failed, t.pending,
                     t.stopped > 0 ? fmt::format(", {} stopped early", t.stopped) : "",
                     md ? "**" : "") +
         render_text_table(header, cells,
                           md ? TextTableFormat::markdown : TextTableFormat::aligned) +
         unmeasured_note(t) + gap_note(t);
}

}  // namespace locsweep
