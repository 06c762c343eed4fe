#include "results/table.hpp"

#include "results/text_table.hpp"
#include "schedules/schedule.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <numeric>
#include <set>

namespace locsweep {
using nlohmann::json;

double t_quantile_975(int dof) {
  static constexpr double kTable[] = {12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306,
                                      2.262,  2.228, 2.201, 2.179, 2.160, 2.145, 2.131, 2.120,
                                      2.110,  2.101, 2.093, 2.086, 2.080, 2.074, 2.069, 2.064,
                                      2.060,  2.056, 2.052, 2.048, 2.045, 2.042};
  if (dof < 1) return 0.0;
  if (dof <= 30) return kTable[dof - 1];
  return 1.96 + 2.4 / dof;  // close to the exact values beyond 30
}

namespace {

struct Trial {
  std::string hash, label, status, config;
  int seed = 0, position = 0;
  double ppl = 0;
  json canonical;
  std::string group;             // canonical without the seed
  std::string baseline;          // canonical without seed and locality: same data, model, training
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

bool value_matches(const std::string& actual, const std::string& wanted) {
  if (actual == wanted) return true;
  char* end = nullptr;
  const double a = std::strtod(actual.c_str(), &end);
  if (end == actual.c_str() || *end) return false;
  const double w = std::strtod(wanted.c_str(), &end);
  return end != wanted.c_str() && !*end && a == w;  // "5" matches 5.0
}

// Says why done trials are missing from the rows; empty when none are.
std::string unmeasured_note(const ResultsTable& t) {
  if (t.unmeasured == 0) return "";
  return fmt::format(
      "\n{} done trial{} without a validation perplexity (kind: noop measures none) {} in no "
      "row; `locsweep status` counts them\n",
      t.unmeasured, t.unmeasured == 1 ? "" : "s", t.unmeasured == 1 ? "is" : "are");
}

std::string fmt_opt(const std::optional<double>& v, const char* spec) {
  return v ? fmt::format(fmt::runtime(spec), *v) : std::string("-");
}

}  // namespace

TableFormat table_format_from_string(const std::string& text) {
  if (text == "table") return TableFormat::table;
  if (text == "csv") return TableFormat::csv;
  if (text == "json") return TableFormat::json;
  if (text == "markdown") return TableFormat::markdown;
  throw InputError("unknown --format '" + text + "' (valid: table, csv, json, markdown)");
}

ResultsTable build_results_table(Database& db, const ResultsQuery& q) {
  ResultsTable table;
  std::string sweep = q.sweep;
  {
    auto names = db.prepare("SELECT name FROM sweeps ORDER BY id");
    std::vector<std::string> all;
    while (names.step()) all.push_back(names.text(0));
    if (all.empty()) throw InputError("'" + db.path() + "' holds no sweeps yet");
    if (sweep.empty()) {
      if (all.size() > 1) {
        std::string list;
        for (const auto& n : all) list += (list.empty() ? "" : ", ") + n;
        throw InputError("'" + db.path() + "' holds several sweeps (" + list +
                         "); choose one with --sweep");
      }
      sweep = all.front();
    } else if (std::find(all.begin(), all.end(), sweep) == all.end()) {
      std::string list;
      for (const auto& n : all) list += (list.empty() ? "" : ", ") + n;
      throw InputError("no sweep named '" + sweep + "' in '" + db.path() + "' (it has: " + list +
                       ")");
    }
  }
  table.sweep = sweep;

  auto stmt = db.prepare(
      "SELECT t.hash, t.label, t.status, t.seed, st.position, t.val_ppl, t.canonical_json, "
      "st.assignment_json "
      "FROM sweep_trials st JOIN sweeps s ON s.id = st.sweep_id JOIN trials t ON t.hash = "
      "st.trial_hash "
      "WHERE s.name = ? ORDER BY st.position");
  stmt.bind(1, sweep);
  std::vector<Trial> trials;
  while (stmt.step()) {
    Trial t;
    t.hash = stmt.text(0);
    t.label = stmt.text(1);
    t.status = stmt.text(2);
    t.seed = static_cast<int>(stmt.integer(3));
    t.position = static_cast<int>(stmt.integer(4));
    t.ppl = stmt.is_null(5) ? 0.0 : stmt.real(5);
    t.canonical = json::parse(stmt.text(6));
    // The configuration's name: mechanism and schedule, plus any other axis it was given.
    t.config = t.label.substr(0, t.label.rfind(" seed="));
    const json assignment = json::parse(stmt.text(7));
    for (const auto& [key, value] : assignment.items()) {
      if (key == "seed" || key == "locality.schedule" || key == "locality.mechanism") continue;
      t.config += " " + key.substr(key.rfind('.') + 1) + "=" +
                  (value.is_string() ? value.get<std::string>() : value.dump());
    }
    t.group = without(t.canonical, {"seed"}).dump();
    json base = without(t.canonical, {"seed", "locality"});
    base["seed"] = t.seed;
    t.baseline = base.dump();
    trials.push_back(std::move(t));
  }

  // Filters: each key must be known for at least one trial, so typos are errors, not empty tables.
  for (const auto& [key, value] : q.where) {
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

  auto heads = db.prepare(
      "SELECT layer, avg(lambda), avg(entropy_bits), avg(entropy_norm), avg(in_block_mass), "
      "avg(mean_distance) "
      "FROM head_metrics WHERE trial_hash = ? GROUP BY layer ORDER BY layer");
  for (auto& t : trials) {
    ++table.trials;
    if (t.status == "done")
      ++table.done;
    else if (t.status == "failed")
      ++table.failed;
    else
      ++table.pending;
    heads.bind(1, t.hash);
    while (heads.step())
      t.layers.push_back({"", static_cast<int>(heads.integer(0)), heads.real(1), heads.real(2),
                          heads.real(3), heads.real(4), heads.real(5)});
    heads.reset();
  }

  // Distributed trials by (baseline, seed): the denominators of the ratios.
  std::map<std::string, double> distributed;
  for (const auto& t : trials)
    if (t.status == "done" && locality_value(t.canonical, "mechanism") == "none")
      distributed[t.baseline] = t.ppl;

  std::map<std::string, std::vector<const Trial*>> groups;
  for (const auto& t : trials) {
    if (t.status != "done") continue;
    if (t.ppl > 0)
      groups[t.group].push_back(&t);
    else
      ++table.unmeasured;  // noop trials measure no perplexity
  }

  std::map<std::string, double> ratio_of_group;
  for (const auto& [key, members] : groups) {
    const Trial& first = *members.front();
    ConfigRow row;
    row.config = first.config;
    row.mechanism = locality_value(first.canonical, "mechanism").value_or("");
    row.schedule = locality_value(first.canonical, "schedule").value_or("");
    row.canonical = without(first.canonical, {"seed"});
    row.position = first.position;
    if (row.schedule.rfind("poly:", 0) == 0) row.beta = std::stod(row.schedule.substr(5));
    if (const auto beta = named_exponent(row.schedule)) row.beta = *beta;
    row.seeds = static_cast<int>(members.size());
    std::vector<double> ppl, ratios;
    double ent_first = 0, ent_last = 0, mass = 0;
    row.lambda_min = 1;
    row.lambda_max = 0;
    for (const Trial* t : members) {
      ppl.push_back(t->ppl);
      if (auto it = distributed.find(t->baseline); it != distributed.end())
        ratios.push_back(t->ppl / it->second);
      if (!t->layers.empty()) {
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
    }
    if (row.lambda_min > row.lambda_max) row.lambda_min = row.lambda_max = 0;
    const double n = static_cast<double>(ppl.size());
    row.ppl_mean = std::accumulate(ppl.begin(), ppl.end(), 0.0) / n;
    double var = 0;
    for (double p : ppl) var += (p - row.ppl_mean) * (p - row.ppl_mean);
    row.ppl_std = ppl.size() > 1 ? std::sqrt(var / (n - 1)) : 0.0;
    row.ppl_ci95 =
        ppl.size() > 1 ? t_quantile_975(static_cast<int>(n) - 1) * row.ppl_std / std::sqrt(n) : 0.0;
    if (!ratios.empty()) {
      const double rn = static_cast<double>(ratios.size());
      row.ratio = std::accumulate(ratios.begin(), ratios.end(), 0.0) / rn;
      double rv = 0;
      for (double r : ratios) rv += (r - *row.ratio) * (r - *row.ratio);
      row.ratio_ci95 = ratios.size() > 1 ? t_quantile_975(static_cast<int>(rn) - 1) *
                                               std::sqrt(rv / (rn - 1)) / std::sqrt(rn)
                                         : 0.0;
      ratio_of_group[key] = *row.ratio;
    }
    row.entropy_first = ent_first / n;
    row.entropy_last = ent_last / n;
    row.in_block_mass = mass / n;
    for (const auto& l : first.layers) {
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
    table.rows.push_back(std::move(row));
  }

  // Gap closed: against the uniform localist configuration of the same mechanism and parameters.
  for (auto& row : table.rows) {
    if (!row.ratio) continue;
    if (row.mechanism == "none") {
      row.gap_closed = 100.0;
      continue;
    }
    json localist = row.canonical;
    localist["locality"]["schedule"] = "localist";
    const auto it = ratio_of_group.find(localist.dump());
    // Only defined when the localist model is worse than the baseline (R_loc > 1): the share
    // of its excess that this schedule closes. With R_loc <= 1 there is no gap to close.
    if (it != ratio_of_group.end() && it->second > 1.0 + 1e-12)
      row.gap_closed =
          100.0 * (it->second - *row.ratio) / (it->second - 1.0) + 0.0;  // + 0: no "-0.0"
  }

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
  std::stable_sort(table.rows.begin(), table.rows.end(),
                   [&](const ConfigRow& a, const ConfigRow& b) {
                     if (q.sort == "config")
                       return q.descending ? a.config > b.config : a.config < b.config;
                     return q.descending ? key(a) > key(b) : key(a) < key(b);
                   });
  return table;
}

std::string render_results(const ResultsTable& t, TableFormat format, bool per_layer) {
  const std::vector<std::string> header =
      per_layer ? std::vector<std::string>{"config",       "layer",        "lambda",
                                           "entropy_bits", "entropy_norm", "in_block_mass",
                                           "mean_distance"}
                : std::vector<std::string>{
                      "config",         "mechanism",     "schedule",     "beta",         "lambda",
                      "seeds",          "ppl",           "ppl_std",      "ppl_ci95",     "ratio",
                      "gap_closed_pct", "entropy_first", "entropy_last", "in_block_mass"};
  std::vector<std::vector<std::string>> cells;
  if (per_layer) {
    for (const auto& r : t.rows)
      for (const auto& l : r.layers)
        cells.push_back(
            {l.config, std::to_string(l.layer), fmt::format("{:.4f}", l.lambda),
             fmt::format("{:.3f}", l.entropy_bits), fmt::format("{:.3f}", l.entropy_norm),
             fmt::format("{:.3f}", l.in_block_mass), fmt::format("{:.2f}", l.mean_distance)});
  } else {
    for (const auto& r : t.rows)
      cells.push_back(
          {r.config, r.mechanism, r.schedule, fmt_opt(r.beta, "{:g}"),
           fmt::format("{:.2g}-{:.2g}", r.lambda_min, r.lambda_max), std::to_string(r.seeds),
           fmt::format("{:.3f}", r.ppl_mean), fmt::format("{:.3f}", r.ppl_std),
           fmt::format("{:.3f}", r.ppl_ci95), fmt_opt(r.ratio, "{:.3f}"),
           fmt_opt(r.gap_closed, "{:.1f}"), fmt::format("{:.3f}", r.entropy_first),
           fmt::format("{:.3f}", r.entropy_last), fmt::format("{:.3f}", r.in_block_mass)});
  }

  if (format == TableFormat::json) {
    json rows = json::array();
    if (per_layer) {
      for (const auto& r : t.rows)
        for (const auto& l : r.layers)
          rows.push_back({{"config", l.config},
                          {"layer", l.layer},
                          {"lambda", l.lambda},
                          {"entropy_bits", l.entropy_bits},
                          {"entropy_norm", l.entropy_norm},
                          {"in_block_mass", l.in_block_mass},
                          {"mean_distance", l.mean_distance}});
    } else {
      for (const auto& r : t.rows) {
        auto opt = [](const std::optional<double>& v) { return v ? json(*v) : json(nullptr); };
        rows.push_back({{"config", r.config},
                        {"mechanism", r.mechanism},
                        {"schedule", r.schedule},
                        {"beta", opt(r.beta)},
                        {"lambda_min", r.lambda_min},
                        {"lambda_max", r.lambda_max},
                        {"seeds", r.seeds},
                        {"ppl", r.ppl_mean},
                        {"ppl_std", r.ppl_std},
                        {"ppl_ci95", r.ppl_ci95},
                        {"ratio", opt(r.ratio)},
                        {"ratio_ci95", opt(r.ratio_ci95)},
                        {"gap_closed_pct", opt(r.gap_closed)},
                        {"entropy_first", r.entropy_first},
                        {"entropy_last", r.entropy_last},
                        {"in_block_mass", r.in_block_mass}});
      }
    }
    return json{{"sweep", t.sweep},   {"trials", t.trials},   {"done", t.done},
                {"failed", t.failed}, {"pending", t.pending}, {"unmeasured", t.unmeasured},
                {"rows", rows}}
               .dump(2) +
           "\n";
  }
  if (format == TableFormat::csv) return render_text_table(header, cells, TextTableFormat::csv);
  const bool md = format == TableFormat::markdown;
  return fmt::format("{}sweep {}: {} trials, {} done, {} failed, {} pending{}\n\n", md ? "**" : "",
                     t.sweep, t.trials, t.done, t.failed, t.pending, md ? "**" : "") +
         render_text_table(header, cells,
                           md ? TextTableFormat::markdown : TextTableFormat::aligned) +
         unmeasured_note(t);
}

}  // namespace locsweep
