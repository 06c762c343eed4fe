#include "sweeps/sweep_spec.hpp"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdint>
#include <set>

#include "common/error.hpp"
#include "common/files.hpp"
#include "sweeps/config_fields.hpp"
#include "sweeps/numeric_keys.hpp"
#include "sweeps/spec_error.hpp"

namespace locsweep {
namespace {

constexpr std::int64_t kMaxSeed = 2147483647;  // the range of the 'seed' key

const std::vector<std::string> kSweepKeys = {"name",   "description",   "grid",  "zip",
                                             "points", "seeds",         "order", "bases",
                                             "search", "early_stopping"};

// Offset of the first byte of `s` that is not valid UTF-8 (overlong forms, surrogates and
// code points past U+10FFFF included), or npos.
size_t invalid_utf8_at(const std::string& s) {
  const auto byte = [&](size_t i) { return static_cast<unsigned char>(s[i]); };
  for (size_t i = 0; i < s.size();) {
    const unsigned char c = byte(i);
    size_t n = 0;
    uint32_t cp = 0, min = 0;
    if (c < 0x80) {
      ++i;
      continue;
    } else if ((c & 0xE0) == 0xC0) {
      n = 1, cp = c & 0x1F, min = 0x80;
    } else if ((c & 0xF0) == 0xE0) {
      n = 2, cp = c & 0x0F, min = 0x800;
    } else if ((c & 0xF8) == 0xF0) {
      n = 3, cp = c & 0x07, min = 0x10000;
    } else {
      return i;
    }
    for (size_t k = 1; k <= n; ++k) {
      if (i + k >= s.size() || (byte(i + k) & 0xC0) != 0x80) return i;
      cp = (cp << 6) | (byte(i + k) & 0x3F);
    }
    if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return i;
    i += n + 1;
  }
  return std::string::npos;
}

YAML::Node load_yaml(const std::string& text, const std::string& file) {
  // Every string of a spec ends up in JSON (configs, canonical hashes), which must be UTF-8.
  if (const size_t at = invalid_utf8_at(text); at != std::string::npos) {
    const auto line =
        std::count(text.begin(), text.begin() + static_cast<std::ptrdiff_t>(at), '\n');
    const size_t line_start = text.rfind('\n', at == 0 ? 0 : at - 1);
    YAML::Mark mark;
    mark.pos = static_cast<int>(at);
    mark.line = static_cast<int>(line);
    mark.column =
        static_cast<int>(line_start == std::string::npos || at == 0 ? at : at - line_start - 1);
    throw SpecError(file, mark, "the file is not valid UTF-8 (save it as UTF-8)");
  }
  try {
    return YAML::Load(text);
  } catch (const YAML::ParserException& e) {
    throw SpecError(file, e.mark, "malformed YAML: " + e.msg);
  }
}

std::string scalar_or_throw(const YAML::Node& node, const std::string& file,
                            const std::string& what) {
  if (!node.IsScalar()) throw SpecError(file, node.Mark(), what + " must be a single value");
  return node.Scalar();
}

std::vector<Axis> read_axes(const YAML::Node& node, const std::string& file,
                            const std::string& what) {
  if (!node.IsMap())
    throw SpecError(file, node.Mark(),
                    what +
                        " must be a mapping from dotted keys to lists of values, e.g. "
                        "'locality.schedule: [linear, quintic]'");
  reject_duplicate_keys(node, file);
  if (node.size() == 0)
    throw SpecError(file, node.Mark(),
                    "empty " + what + ": give at least one key with a list of values");
  std::vector<Axis> axes;
  for (const auto& kv : node) {
    Axis axis{scalar_or_throw(kv.first, file, what + " key"), kv.first.Mark(), {}};
    if (axis.path == "seed")
      ;  // allowed: a grid over seeds
    else if (!find_field(axis.path))
      throw SpecError(
          file, kv.first.Mark(),
          what + " key '" + axis.path + "' is not a trial key" +
              (is_section(axis.path)
                   ? " (it is a section: name one of its keys, e.g. '" + axis.path + ".<key>')"
                   : " (see docs/sweep-spec.md for the keys)"));
    if (!kv.second.IsSequence())
      throw SpecError(file, kv.second.Mark(),
                      what + " '" + axis.path + "' must be a list of values, e.g. [a, b]");
    if (kv.second.size() == 0)
      throw SpecError(file, kv.second.Mark(), what + " '" + axis.path + "' has no values");
    for (const auto& v : kv.second) axis.values.push_back(v);
    axes.push_back(std::move(axis));
  }
  return axes;
}

std::vector<int> read_seeds(const YAML::Node& node, const std::string& file) {
  std::vector<int> seeds;
  auto read_int = [&](const YAML::Node& n, const std::string& what) {
    try {
      if (n.IsScalar()) {
        const long long v = std::stoll(n.Scalar());
        if (std::to_string(v) == n.Scalar() && v >= 0 && v <= kMaxSeed) return static_cast<int>(v);
      }
    } catch (const std::exception&) {
    }
    throw SpecError(file, n.Mark(),
                    what + " must be a whole number from 0 to " + std::to_string(kMaxSeed) +
                        ", got " + (n.IsScalar() ? "'" + n.Scalar() + "'" : "not a number"));
  };
  if (node.IsSequence()) {
    if (node.size() == 0) throw SpecError(file, node.Mark(), "seeds: the list is empty");
    std::set<int> seen;
    for (const auto& item : node) {
      const int seed = read_int(item, "a seed");
      if (!seen.insert(seed).second)
        throw SpecError(file, item.Mark(), "seeds: " + std::to_string(seed) + " appears twice");
      seeds.push_back(seed);
    }
  } else if (node.IsMap()) {
    reject_duplicate_keys(node, file);
    for (const auto& kv : node)
      if (kv.first.Scalar() != "start" && kv.first.Scalar() != "count")
        throw SpecError(
            file, kv.first.Mark(),
            "seeds: unknown key '" + kv.first.Scalar() + "' (write {start: 0, count: N})");
    const int start = node["start"] ? read_int(node["start"], "seeds.start") : 0;
    if (!node["count"])
      throw SpecError(file, node.Mark(), "seeds needs 'count' (write {start: 0, count: N})");
    const int count = read_int(node["count"], "seeds.count");
    if (count < 1) throw SpecError(file, node["count"].Mark(), "seeds.count must be >= 1");
    if (static_cast<std::int64_t>(start) + count - 1 > kMaxSeed)
      throw SpecError(file, node.Mark(),
                      "seeds {start: " + std::to_string(start) +
                          ", count: " + std::to_string(count) + "} would run seeds up to " +
                          std::to_string(static_cast<std::int64_t>(start) + count - 1) +
                          ", beyond the largest seed " + std::to_string(kMaxSeed) +
                          "; lower start or count");
    if (static_cast<std::uint64_t>(count) > kMaxTrialsPerSweep)
      throw SpecError(file, node["count"].Mark(),
                      "seeds.count " + std::to_string(count) + " is more than the limit of " +
                          std::to_string(kMaxTrialsPerSweep) +
                          " trials per sweep; split the seeds over several sweeps");
    for (int i = 0; i < count; ++i) seeds.push_back(start + i);
  } else {
    throw SpecError(file, node.Mark(),
                    "seeds must be a list like [0, 1, 2] or {start: 0, count: N}");
  }
  return seeds;
}

// A base's name: what `model.init: base:<name>` refers to, and part of its label.
bool valid_base_name(const std::string& name) {
  if (name.empty() || name.size() > 64) return false;
  return std::all_of(name.begin(), name.end(), [](char ch) {
    return std::isalnum(static_cast<unsigned char>(ch)) || ch == '-' || ch == '_';
  });
}

// `bases:` — each a block of trial keys over the shared ones (model.init back to scratch).
std::vector<BaseSpec> read_bases(const YAML::Node& node, const std::string& file,
                                 const TrialConfig& shared) {
  if (!node.IsMap() || node.size() == 0)
    throw SpecError(file, node.Mark(),
                    "bases must be a mapping from base names to blocks of trial keys, e.g. "
                    "'bases: {pretrained: {data: {corpus: sotu}}}'");
  reject_duplicate_keys(node, file);
  std::vector<BaseSpec> bases;
  for (const auto& kv : node) {
    BaseSpec base;
    base.name = scalar_or_throw(kv.first, file, "a base name");
    base.mark = kv.first.Mark();
    if (!valid_base_name(base.name))
      throw SpecError(file, base.mark,
                      "base name '" + base.name +
                          "' must be 1 to 64 letters, digits, '-' or '_' (it is referred to as "
                          "model.init: base:<name>)");
    base.block = kv.second;
    base.config = shared;
    base.config.model.init = "scratch";
    if (!base.block.IsNull()) {
      if (!base.block.IsMap())
        throw SpecError(file, base.block.Mark(),
                        "base '" + base.name +
                            "' must be a mapping of trial keys (those it changes from the "
                            "sweep's), e.g. {data: {corpus: sotu}, train: {steps: 1500}}");
      for (const auto& key :
           {"grid", "zip", "points", "seeds", "bases", "name", "order", "search", "early_stopping"})
        if (base.block[key])
          throw SpecError(file, base.block[key].Mark(),
                          std::string("'") + key + "' cannot be set in a base (base '" + base.name +
                              "'): a base is one trial, no axis applies to it");
      read_trial_keys(base.block, file, base.config);
      base.own_seed = static_cast<bool>(base.block["seed"]);
    }
    bases.push_back(std::move(base));
  }
  return bases;
}

// A whole number >= `least` at `node` (early_stopping's rungs and reduction).
int read_count(const YAML::Node& node, const std::string& file, const std::string& what,
               int least) {
  try {
    if (node.IsScalar()) {
      const long long v = std::stoll(node.Scalar());
      if (std::to_string(v) == node.Scalar() && v >= least && v <= 2147483647)
        return static_cast<int>(v);
    }
  } catch (const std::exception&) {
  }
  throw SpecError(file, node.Mark(),
                  what + " must be a whole number >= " + std::to_string(least) + ", got " +
                      (node.IsScalar() ? "'" + node.Scalar() + "'" : "not a number"));
}

// The train.steps values the sweep's own trials take, each with where it was written: a
// grid/zip axis over train.steps replaces the shared value; each point has its own or the
// shared one.
std::vector<std::pair<int, YAML::Mark>> trial_steps(const SweepSpec& spec) {
  std::vector<std::pair<int, YAML::Mark>> out;
  const YAML::Mark shared_mark = spec.root["train"] && spec.root["train"]["steps"]
                                     ? spec.root["train"]["steps"].Mark()
                                     : YAML::Mark::null_mark();
  auto value_of = [&](const YAML::Node& v) { return read_count(v, spec.file, "train.steps", 1); };
  bool axis = false;
  for (const auto* axes : {&spec.grid, &spec.zip})
    for (const Axis& a : *axes)
      if (a.path == "train.steps") {
        axis = true;
        for (const auto& v : a.values) out.emplace_back(value_of(v), v.Mark());
      }
  if (!axis && (!spec.grid.empty() || !spec.zip.empty() || spec.points.empty()))
    out.emplace_back(spec.base.train.steps, shared_mark);
  for (const auto& point : spec.points) {
    const auto it = std::find_if(point.begin(), point.end(),
                                 [](const Assignment& a) { return a.path == "train.steps"; });
    if (it != point.end())
      out.emplace_back(value_of(it->value), it->value.Mark());
    else
      out.emplace_back(spec.base.train.steps, shared_mark);
  }
  return out;
}

// `early_stopping: {rungs: [20, 40], reduction: 3}` (method asha, the only one, implied).
AshaSpec read_early_stopping(const YAML::Node& node, const SweepSpec& spec) {
  const std::string& file = spec.file;
  const std::string example = " (write e.g. 'early_stopping: {rungs: [20, 40], reduction: 3}')";
  if (!node.IsMap())
    throw SpecError(file, node.Mark(), "early_stopping must be a mapping" + example);
  reject_duplicate_keys(node, file);
  for (const auto& kv : node) {
    const std::string key = kv.first.Scalar();
    if (key == "method") {
      if (kv.second.IsScalar() && kv.second.Scalar() == "asha") continue;
      throw SpecError(file, kv.second.Mark(),
                      "early_stopping.method must be asha (the only method), got '" +
                          (kv.second.IsScalar() ? kv.second.Scalar() : std::string("?")) + "'");
    }
    if (key != "rungs" && key != "reduction")
      throw SpecError(
          file, kv.first.Mark(),
          "early_stopping: unknown key '" + key + "' (it takes rungs, reduction and method: asha)");
  }
  AshaSpec asha;
  const YAML::Node rungs = node["rungs"];
  if (!rungs)
    throw SpecError(
        file, node.Mark(),
        "early_stopping needs 'rungs': the step counts where trials are ranked" + example);
  if (!rungs.IsSequence() || rungs.size() == 0)
    throw SpecError(file, rungs.Mark(),
                    "early_stopping.rungs must be a non-empty list of step counts, e.g. [20, 40]");
  for (const auto& r : rungs) {
    const int step = read_count(r, file, "a rung (early_stopping.rungs)", 1);
    if (!asha.rungs.empty() && step <= asha.rungs.back())
      throw SpecError(file, r.Mark(),
                      "early_stopping.rungs must increase: " + std::to_string(step) + " follows " +
                          std::to_string(asha.rungs.back()));
    asha.rungs.push_back(step);
  }
  if (node["reduction"])
    asha.reduction = read_count(node["reduction"], file, "early_stopping.reduction", 2);
  for (const auto& [steps, mark] : trial_steps(spec))
    if (asha.rungs.back() >= steps)
      throw SpecError(file, rungs[rungs.size() - 1].Mark(),
                      "early_stopping.rungs: the last rung " + std::to_string(asha.rungs.back()) +
                          " is not below train.steps " + std::to_string(steps) +
                          (mark.is_null() ? std::string(" (the default)")
                                          : " (line " + std::to_string(mark.line + 1) + ")") +
                          "; every rung must be below every trial's train.steps (the last "
                          "rung is train.steps itself)");
  return asha;
}

std::uint64_t saturating_mul(std::uint64_t a, std::uint64_t b) {
  std::uint64_t out = 0;
  return __builtin_mul_overflow(a, b, &out) ? UINT64_MAX : out;
}

std::uint64_t saturating_add(std::uint64_t a, std::uint64_t b) {
  std::uint64_t out = 0;
  return __builtin_add_overflow(a, b, &out) ? UINT64_MAX : out;
}

// "1000 x 1000 (grid) x 3 (zip) + 2 points, x 10 seeds"
std::string size_formula(const SweepSpec& spec) {
  std::string out;
  for (const Axis& axis : spec.grid)
    out += (out.empty() ? "" : " x ") + std::to_string(axis.values.size());
  if (!spec.grid.empty()) out += " (grid)";
  if (!spec.zip.empty())
    out += (out.empty() ? "" : " x ") + std::to_string(spec.zip.front().values.size()) + " (zip)";
  if (!spec.points.empty())
    out += (out.empty() ? "" : " + ") + std::to_string(spec.points.size()) + " points";
  if (!spec.seeds.empty())
    out += (out.empty() ? "1" : "") + std::string(", x ") + std::to_string(spec.seeds.size()) +
           " seeds";
  return out;
}

// Refuses a sweep of more than kMaxTrialsPerSweep trials, before any expansion.
void check_size(const SweepSpec& spec) {
  const std::uint64_t count = combination_count(spec);
  if (count <= kMaxTrialsPerSweep) return;
  const YAML::Node& root = spec.root;
  const YAML::Mark mark = root["grid"]    ? root["grid"].Mark()
                          : root["zip"]   ? root["zip"].Mark()
                          : root["seeds"] ? spec.seeds_mark
                                          : root["points"].Mark();
  throw SpecError(
      spec.file, mark,
      "the sweep expands into " +
          (count == UINT64_MAX ? std::string("more than 1.8e19") : std::to_string(count)) +
          " trials (" + size_formula(spec) + "), more than the limit of " +
          std::to_string(kMaxTrialsPerSweep) +
          " trials per sweep; split it into several sweeps (each with its own name) "
          "or shorten the lists");
}

// ---- search: (docs/sweep-spec.md, "Search") ----

constexpr int kMaxSearchBudget = 1000;  // points; a longer search is a grid in disguise
// lipo's replay rebuilds dlib's model point by point after every settled trial, at a cost that
// grows with the square of the points (about 0.2 s at 100, 5 s at 300 here): above this it
// would stall the coordinator's loop (heartbeats, the lease) for seconds per trial.
constexpr int kMaxLipoBudget = 200;
constexpr int kMaxSearchParallel = 256;

double search_number(const YAML::Node& node, const std::string& file, const std::string& what) {
  double value = 0;
  if (!node.IsScalar() || !YAML::convert<double>::decode(node, value) || !std::isfinite(value))
    throw SpecError(
        file, node.Mark(),
        what + " must be a finite number, got " +
            (node.IsScalar() ? "'" + node.Scalar() + "'" : std::string("not a number")));
  return value;
}

int search_count(const YAML::Node& node, const std::string& file, const std::string& what, int hi) {
  const double value = search_number(node, file, what);
  if (value != std::floor(value) || value < 1 || value > hi)
    throw SpecError(file, node.Mark(),
                    what + " must be a whole number from 1 to " + std::to_string(hi) + ", got '" +
                        node.Scalar() + "'");
  return static_cast<int>(value);
}

// search.key: a continuous numeric trial key the shared keys can vary.
std::string read_search_key(const YAML::Node& node, const std::string& file,
                            const TrialConfig& shared) {
  const std::string key = scalar_or_throw(node, file, "search.key");
  if (const auto problem = numeric_key_problem(key))
    throw SpecError(file, node.Mark(), "search.key: " + *problem);
  if (is_schedule_parameter(key) && shared.locality.schedule.kind() != Schedule::Kind::polynomial)
    throw SpecError(file, node.Mark(),
                    "search.key: " + key +
                        " is a parameter of a polynomial schedule, but the "
                        "shared locality.schedule is '" +
                        shared.locality.schedule.canonical() +
                        "'; write a polynomial one (e.g. 'locality.schedule: quintic' or "
                        "'{type: polynomial, beta: 5, lambda_min: 0, lambda_max: 1}'), whose "
                        "lambda_min and lambda_max every point keeps");
  if (shared.kind == TrialKind::noop && shared.noop.loss.key != key)
    throw SpecError(file, node.Mark(),
                    "search.key: noop trials differ only in their noop keys, so searching '" + key +
                        "' needs 'noop.loss.key: " + key +
                        "' (a synthetic loss of it; docs/sweep-spec.md, \"Synthetic loss\")");
  return key;
}

// search.objective: a metric to minimise, or {maximize|minimize: METRIC, subject_to: {ratio: R}}.
SearchObjective read_search_objective(const YAML::Node& node, const std::string& file) {
  const auto metric_of = [&](const YAML::Node& n) {
    const std::string text = scalar_or_throw(n, file, "search.objective's metric");
    const auto metric = search_metric_from_string(text);
    if (!metric)
      throw SpecError(file, n.Mark(),
                      "search.objective: unknown metric '" + text +
                          "' (valid: " + std::string(kSearchMetricChoices) + ")");
    return *metric;
  };
  SearchObjective objective;
  if (node.IsScalar()) {
    objective.metric = metric_of(node);
    if (objective.metric == SearchMetric::mean_lambda ||
        objective.metric == SearchMetric::last_in_block)
      throw SpecError(file, node.Mark(),
                      "search.objective: " + node.Scalar() +
                          " is a locality measure, which a "
                          "search maximises: write {maximize: " +
                          node.Scalar() + ", subject_to: {ratio: 1.02}}");
    return objective;
  }
  if (!node.IsMap())
    throw SpecError(file, node.Mark(),
                    "search.objective must be a metric (val_loss, val_ppl or ratio, minimised) "
                    "or {maximize: METRIC, subject_to: {ratio: R}}");
  reject_duplicate_keys(node, file);
  for (const auto& kv : node) {
    const std::string k = scalar_or_throw(kv.first, file, "a search.objective key");
    if (k != "minimize" && k != "maximize" && k != "subject_to")
      throw SpecError(file, kv.first.Mark(),
                      "search.objective: unknown key '" + k +
                          "' (valid: minimize or maximize, and subject_to)");
  }
  if (node["minimize"] && node["maximize"])
    throw SpecError(file, node["maximize"].Mark(),
                    "search.objective: give one of minimize and maximize, not both");
  if (!node["minimize"] && !node["maximize"])
    throw SpecError(file, node.Mark(),
                    "search.objective needs 'minimize: METRIC' or 'maximize: METRIC' (" +
                        std::string(kSearchMetricChoices) + ")");
  objective.maximize = static_cast<bool>(node["maximize"]);
  objective.metric = metric_of(objective.maximize ? node["maximize"] : node["minimize"]);
  if (const YAML::Node subject = node["subject_to"]) {
    if (!subject.IsMap() || subject.size() != 1 || !subject["ratio"])
      throw SpecError(file, subject.Mark(),
                      "search.objective.subject_to must be {ratio: R}: val_ppl at most R times "
                      "the distributed baseline's");
    const double ratio = search_number(subject["ratio"], file, "subject_to.ratio");
    if (ratio <= 0)
      throw SpecError(file, subject["ratio"].Mark(),
                      "subject_to.ratio must be > 0 (e.g. 1.02: within 2 % of the baseline)");
    objective.max_ratio = ratio;
  }
  return objective;
}

// The shared keys with `key` at x: SpecError at `where` if x makes them invalid.
void check_search_end(const SweepSpec& spec, const std::string& key, double x,
                      const YAML::Node& where) {
  // The shared keys' own problem is blamed on them, where plan_sweep() finds it.
  if (find_problem(spec.base, spec.base_names())) return;
  TrialConfig config = spec.base;
  const NumericKeyValue value = numeric_key_yaml(config, key, x);
  try {
    apply_field(config, value.path, YAML::Load(value.yaml), spec.file, where.Mark());
  } catch (const SpecError& e) {
    throw SpecError(spec.file, where.Mark(),
                    "search.interval: " + format_number(x) + ": " + e.message());
  }
  if (const auto problem = find_problem(config, spec.base_names()))
    throw SpecError(spec.file, where.Mark(),
                    "search.interval: at " + key + " = " + format_number(x) +
                        " the trial is invalid: " + problem->text());
}

void read_search_interval(const YAML::Node& node, const SweepSpec& spec, SearchSpec& search) {
  if (!node.IsSequence() || node.size() != 2)
    throw SpecError(spec.file, node.Mark(),
                    "search.interval must be [lo, hi], two numbers with lo < hi");
  search.lo = search_number(node[0], spec.file, "search.interval's lo");
  search.hi = search_number(node[1], spec.file, "search.interval's hi");
  if (search.lo >= search.hi)
    throw SpecError(spec.file, node.Mark(),
                    "search.interval [" + format_number(search.lo) + ", " +
                        format_number(search.hi) + "]: lo must be less than hi");
  check_search_end(spec, search.key, search.lo, node[0]);
  check_search_end(spec, search.key, search.hi, node[1]);
}

// No grid or zip axis may vary the searched key (a schedule parameter: locality.schedule).
void reject_axis_over(const SweepSpec& spec, const std::string& key) {
  const std::string varied = is_schedule_parameter(key) ? "locality.schedule" : key;
  for (const auto* axes : {&spec.grid, &spec.zip})
    for (const Axis& axis : *axes)
      if (axis.path == varied)
        throw SpecError(spec.file, axis.mark,
                        "'" + axis.path + "' is varied here and searched (search.key: " + key +
                            "); search it, or list its values, not both");
}

SearchSpec read_search(const YAML::Node& node, const SweepSpec& spec) {
  const std::string& file = spec.file;
  if (!node.IsMap())
    throw SpecError(file, node.Mark(),
                    "search must be a mapping, e.g. {key: locality.schedule.beta, interval: [1, "
                    "20], method: brent, objective: val_ppl, budget: 20}");
  reject_duplicate_keys(node, file);
  static const std::set<std::string> known = {"key",    "interval",  "method",  "objective",
                                              "budget", "tolerance", "parallel"};
  for (const auto& kv : node) {
    const std::string k = scalar_or_throw(kv.first, file, "a search key");
    if (!known.count(k))
      throw SpecError(file, kv.first.Mark(),
                      "search: unknown key '" + k +
                          "' (valid: key, interval, method, objective, budget, tolerance, "
                          "parallel)");
  }
  for (const char* required : {"key", "interval"})
    if (!node[required])
      throw SpecError(file, node.Mark(),
                      std::string("search needs '") + required +
                          "' (e.g. key: locality.schedule.beta, interval: [1, 20])");
  SearchSpec search;
  search.key = read_search_key(node["key"], file, spec.base);
  reject_axis_over(spec, search.key);
  read_search_interval(node["interval"], spec, search);
  if (node["method"]) {
    const std::string text = scalar_or_throw(node["method"], file, "search.method");
    const auto method = search_method_from_string(text);
    if (!method)
      throw SpecError(
          file, node["method"].Mark(),
          "search.method must be " + std::string(kSearchMethodChoices) + ", got '" + text + "'");
    search.method = *method;
  }
  if (node["objective"]) search.objective = read_search_objective(node["objective"], file);
  if (node["budget"])
    search.budget =
        search_count(node["budget"], file, "search.budget",
                     search.method == SearchMethod::lipo ? kMaxLipoBudget : kMaxSearchBudget);
  const std::uint64_t seeds = std::max<std::uint64_t>(1, spec.seeds.size());
  if (static_cast<std::uint64_t>(search.budget) * seeds > kMaxTrialsPerSweep)
    throw SpecError(file, node["budget"] ? node["budget"].Mark() : node.Mark(),
                    "search: " + std::to_string(search.budget) + " points x " +
                        std::to_string(seeds) + " seeds is more than the limit of " +
                        std::to_string(kMaxTrialsPerSweep) + " trials per sweep");
  const bool brent = search.method == SearchMethod::brent;
  if (node["tolerance"]) {
    if (!brent)
      throw SpecError(file, node["tolerance"].Mark(),
                      "search.tolerance is brent's (the bracket width it stops at); lipo stops "
                      "when its budget is spent");
    search.tolerance = search_number(node["tolerance"], file, "search.tolerance");
    if (search.tolerance <= 0 || search.tolerance >= search.hi - search.lo)
      throw SpecError(file, node["tolerance"].Mark(),
                      "search.tolerance must be > 0 and less than the interval's width " +
                          format_number(search.hi - search.lo));
  }
  if (node["parallel"]) {
    if (brent)
      throw SpecError(file, node["parallel"].Mark(),
                      "search.parallel needs method: lipo; brent asks one point at a time");
    search.parallel = search_count(node["parallel"], file, "search.parallel", kMaxSearchParallel);
  }
  return search;
}

}  // namespace

std::uint64_t combination_count(const SweepSpec& spec) {
  std::uint64_t combos = 0;
  if (!spec.grid.empty() || !spec.zip.empty() || spec.points.empty()) {
    combos = 1;
    for (const Axis& axis : spec.grid) combos = saturating_mul(combos, axis.values.size());
    if (!spec.zip.empty()) combos = saturating_mul(combos, spec.zip.front().values.size());
  }
  combos = saturating_add(combos, spec.points.size());
  return saturating_mul(combos, std::max<std::uint64_t>(1, spec.seeds.size()));
}

const BaseSpec* SweepSpec::find_base(const std::string& name) const {
  for (const BaseSpec& b : bases)
    if (b.name == name) return &b;
  return nullptr;
}

std::vector<std::string> SweepSpec::base_names() const {
  std::vector<std::string> names;
  for (const BaseSpec& b : bases) names.push_back(b.name);
  return names;
}

std::string_view to_string(DispatchOrder order) {
  return order == DispatchOrder::fifo ? "fifo" : "longest-first";
}

std::optional<DispatchOrder> dispatch_order_from_string(std::string_view text) {
  for (DispatchOrder order : {DispatchOrder::longest_first, DispatchOrder::fifo})
    if (to_string(order) == text) return order;
  return std::nullopt;
}

SweepSpec parse_sweep(const std::string& text, const std::string& file, const std::string& spec_dir,
                      const std::vector<Override>& overrides) {
  SweepSpec spec;
  spec.file = file;
  spec.source = text;
  spec.root = load_yaml(text, file);
  if (!overrides.empty()) {  // the command line's key=value (sweeps/overrides.hpp)
    apply_overrides(spec.root, overrides);
    spec.source = overridden_source(spec.root, file, overrides);
  }
  const YAML::Node& root = spec.root;
  if (!root.IsMap())
    throw SpecError(file, root.Mark(),
                    root.IsNull()
                        ? "the sweep file is empty; it needs at least a 'name' and trial keys"
                        : "a sweep file must be a mapping of keys at the top level");
  reject_duplicate_keys(root, file);

  spec.base.spec_dir = spec_dir;
  read_trial_keys(root, file, spec.base, kSweepKeys);

  if (root["name"]) {
    spec.name = scalar_or_throw(root["name"], file, "name");
    if (spec.name.empty() || spec.name.size() > 200)
      throw SpecError(file, root["name"].Mark(), "name must be 1 to 200 characters");
  } else {
    throw SpecError(file, root.Mark(),
                    "the sweep needs a 'name' (it identifies the sweep in a results DB)");
  }
  if (root["description"])
    spec.description = scalar_or_throw(root["description"], file, "description");
  if (root["grid"]) spec.grid = read_axes(root["grid"], file, "grid");
  if (root["zip"]) {
    spec.zip = read_axes(root["zip"], file, "zip");
    for (const auto& axis : spec.zip)
      if (axis.values.size() != spec.zip.front().values.size())
        throw SpecError(file, axis.mark,
                        "zip lists must have equal lengths: '" + axis.path + "' has " +
                            std::to_string(axis.values.size()) + " values, '" +
                            spec.zip.front().path + "' has " +
                            std::to_string(spec.zip.front().values.size()));
  }
  if (root["points"]) {
    const YAML::Node points = root["points"];
    if (!points.IsSequence() || points.size() == 0)
      throw SpecError(
          file, points.Mark(),
          "points must be a non-empty list of mappings, e.g. - {locality.mechanism: mask}");
    for (const auto& point : points) {
      if (!point.IsMap() || point.size() == 0)
        throw SpecError(file, point.Mark(),
                        "each point must be a non-empty mapping of dotted keys to values");
      reject_duplicate_keys(point, file);
      std::vector<Assignment> assignments;
      for (const auto& kv : point) {
        const std::string path = scalar_or_throw(kv.first, file, "point key");
        if (!find_field(path))
          throw SpecError(file, kv.first.Mark(), "point key '" + path + "' is not a trial key");
        assignments.push_back({path, kv.second, kv.first.Mark()});
      }
      spec.points.push_back(std::move(assignments));
    }
  }
  if (root["seeds"]) {
    spec.seeds_mark = root["seeds"].Mark();
    spec.seeds = read_seeds(root["seeds"], file);
    for (const auto& axes : {&spec.grid, &spec.zip})
      for (const auto& axis : *axes)
        if (axis.path == "seed")
          throw SpecError(file, axis.mark,
                          "give seeds either in 'seeds' or as a 'seed' axis, not both");
  }
  check_size(spec);
  if (root["bases"]) spec.bases = read_bases(root["bases"], file, spec.base);
  if (root["order"]) {
    const std::string order = scalar_or_throw(root["order"], file, "order");
    const auto parsed = dispatch_order_from_string(order);
    if (!parsed)
      throw SpecError(
          file, root["order"].Mark(),
          "order must be " + std::string(kDispatchOrderChoices) + ", got '" + order + "'");
    spec.order = *parsed;
  }
  if (root["search"]) spec.search = read_search(root["search"], spec);
  if (root["early_stopping"])
    spec.early_stopping = read_early_stopping(root["early_stopping"], spec);
  // A search point's value is its trials' final validation loss, which a trial stopped at a
  // rung never has.
  if (spec.search && spec.early_stopping)
    throw SpecError(file, root["early_stopping"].Mark(),
                    "early_stopping cannot be combined with search: a search point is judged by "
                    "its trials' final validation loss, which a trial stopped early does not "
                    "have; search first, then stop early over a grid around its best point");
  return spec;
}

SweepSpec load_sweep(const std::filesystem::path& file) {
  const std::string text = read_file(file);
  const auto dir = std::filesystem::absolute(file).parent_path();
  return parse_sweep(text, file.string(), dir.string());
}

TrialConfig parse_trial_config(const std::string& text, const std::string& file,
                               const std::string& spec_dir,
                               const std::vector<Override>& overrides) {
  YAML::Node root = load_yaml(text, file);
  apply_overrides(root, overrides);  // the command line's key=value (sweeps/overrides.hpp)
  if (root.IsMap())
    for (const auto& key : {"grid", "zip", "points", "seeds", "bases", "search", "early_stopping"})
      if (root[key])
        throw SpecError(file, root[key].Mark(),
                        std::string("'") + key +
                            "' belongs in a sweep spec; a trial config has one "
                            "value per key (use 'locsweep plan' or 'locsweep run' for sweeps)");
  TrialConfig config;
  config.spec_dir = spec_dir;
  read_trial_keys(root, file, config, {"name", "description", "order"});
  if (const auto problem = find_problem(config))
    throw SpecError(file, YAML::Mark::null_mark(), problem->text());
  return config;
}

TrialConfig load_trial_config(const std::filesystem::path& file) {
  return parse_trial_config(read_file(file), file.string(),
                            std::filesystem::absolute(file).parent_path().string());
}

}  // namespace locsweep
