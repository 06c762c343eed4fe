#include "results/search_display.hpp"

#include <fmt/format.h>

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cmath>
#include <filesystem>

#include "common/error.hpp"
#include "results/report_queries.hpp"
#include "results/text_table.hpp"

namespace locsweep {
namespace {

using nlohmann::json;

// The mean over `seeds` of `metric` alone (objective_value without maximising or a
// constraint): the one definition of each metric, search/search.hpp's.
std::optional<double> mean_of(SearchMetric metric, const std::vector<SeedFigures>& seeds) {
  if (seeds.empty()) return std::nullopt;
  for (const auto& s : seeds) {
    if (metric == SearchMetric::ratio && !s.baseline_val_loss) return std::nullopt;
    if (metric == SearchMetric::last_in_block && !s.last_in_block) return std::nullopt;
  }
  SearchObjective plain;
  plain.metric = metric;
  return objective_value(plain, seeds);
}

SearchRow row_of(const SearchSpec& spec, const SearchPoint& point, size_t order) {
  SearchRow row;
  row.order = order;
  row.x = point.x;
  for (const auto& t : point.trials) {
    row.seeds.push_back(t.config.seed);
    row.hashes.push_back(t.hash);
  }
  row.statuses = point.statuses;
  row.known = point.value.has_value();
  row.failed = point.value && point.value->failed;
  if (row.known && !row.failed) row.value = point.value->value;
  row.val_ppl = mean_of(SearchMetric::val_ppl, point.figures);
  row.ratio = mean_of(SearchMetric::ratio, point.figures);
  row.last_in_block = mean_of(SearchMetric::last_in_block, point.figures);
  row.metric = mean_of(spec.objective.metric, point.figures);
  const auto& max_ratio = spec.objective.max_ratio;
  row.infeasible = max_ratio && row.ratio && *row.ratio > *max_ratio;
  return row;
}

std::string number(double v) {
  return fmt::format("{:.6g}", v);
}
std::string number(const std::optional<double>& v) {
  return v ? number(*v) : "-";
}
json number_or_null(const std::optional<double>& v) {
  return v && std::isfinite(*v) ? json(*v) : json(nullptr);
}

// "done", or per seed "0:done 1:running" when a point has several.
std::string statuses_text(const SearchRow& row) {
  if (row.statuses.size() == 1) return row.statuses.front();
  std::string out;
  for (size_t i = 0; i < row.statuses.size(); ++i)
    out += fmt::format("{}{}:{}", i ? " " : "", i < row.seeds.size() ? row.seeds[i] : 0,
                       row.statuses[i]);
  return out;
}

// The objective differs from its metric (maximised, or with a constraint): show both.
bool value_differs_from_metric(const SearchObjective& objective) {
  return objective.maximize || objective.max_ratio.has_value();
}

std::string point_text(const SearchView& view, const SearchRow& row) {
  const std::string metric(to_string(view.spec.objective.metric));
  std::string text = fmt::format("{} = {}", view.spec.key, number(row.x));
  if (row.metric) text += fmt::format(" ({} {})", metric, number(*row.metric));
  return text;
}

}  // namespace

SearchView search_view(const SearchProgress& progress) {
  SearchView view;
  view.spec = progress.spec;
  for (size_t i = 0; i < progress.points.size(); ++i)
    view.rows.push_back(row_of(progress.spec, progress.points[i], i + 1));
  if (!progress.points.empty()) view.seeds = progress.points.front().trials.size();
  std::stable_sort(view.rows.begin(), view.rows.end(),
                   [](const SearchRow& a, const SearchRow& b) { return a.x < b.x; });
  for (size_t i = 0; i < view.rows.size(); ++i) {
    SearchRow& row = view.rows[i];
    row.best = progress.state.best && *progress.state.best + 1 == row.order;
    if (row.best) view.best = i;
    if (row.known) ++view.evaluated;
  }
  view.pending = progress.state.pending;
  view.finished = progress.state.finished;
  view.why = progress.state.why;
  for (size_t i = 0; i < progress.baselines.size(); ++i)
    view.baselines.push_back({progress.baselines[i].hash, progress.baselines[i].config.seed,
                              i < progress.baseline_statuses.size() ? progress.baseline_statuses[i]
                                                                    : std::string("absent")});
  return view;
}

std::string objective_text(const SearchObjective& objective) {
  std::string text = fmt::format("{} {}", objective.maximize ? "maximise" : "minimise",
                                 to_string(objective.metric));
  if (objective.max_ratio) text += fmt::format(" subject to ratio <= {}", *objective.max_ratio);
  return text;
}

std::string search_spec_text(const SearchSpec& spec, size_t seeds) {
  std::string text =
      fmt::format("search {} in [{}, {}]: {}, {}, budget {} point{}", spec.key, number(spec.lo),
                  number(spec.hi), to_string(spec.method), objective_text(spec.objective),
                  spec.budget, spec.budget == 1 ? "" : "s");
  if (spec.method == SearchMethod::brent)
    text += fmt::format(", tolerance {}", number(spec.tolerance));
  else
    text += fmt::format(", {} in flight", spec.parallel);
  return text + fmt::format(", {} seed{} per point\n", seeds, seeds == 1 ? "" : "s");
}

std::string search_state_text(const SearchView& view) {
  std::string text = view.finished ? "finished: " + view.why : std::string("not finished");
  text += fmt::format("; {} point{} evaluated, {} pending", view.evaluated,
                      view.evaluated == 1 ? "" : "s", view.pending.size());
  if (!view.pending.empty()) {
    std::string xs;
    for (const double x : view.pending) xs += (xs.empty() ? "" : ", ") + number(x);
    text += fmt::format(" ({} = {})", view.spec.key, xs);
  }
  text += "\n";
  if (view.best)
    text += "best " + point_text(view, view.rows[*view.best]) + "\n";
  else
    text += "best: none yet\n";
  return text;
}

SearchTable search_points_table(const SearchView& view) {
  const SearchObjective& objective = view.spec.objective;
  const std::string metric(to_string(objective.metric));
  const bool metric_column =
      objective.metric != SearchMetric::val_ppl && objective.metric != SearchMetric::ratio;
  const bool ratio_column = objective.needs_baseline();
  const bool value_column = value_differs_from_metric(objective);
  SearchTable table;
  table.header = {"", "#", view.spec.key};
  if (metric_column) table.header.push_back(metric);
  table.header.push_back("val_ppl");
  if (ratio_column) table.header.push_back("ratio");
  if (value_column) table.header.push_back("objective");
  table.header.push_back("trials");
  for (const SearchRow& row : view.rows) {
    std::vector<std::string> line = {row.best ? "*" : "", std::to_string(row.order), number(row.x)};
    if (metric_column) line.push_back(number(row.metric));
    line.push_back(number(row.val_ppl));
    if (ratio_column) line.push_back(number(row.ratio) + (row.infeasible ? " (over)" : ""));
    if (value_column) line.push_back(row.failed ? "failed" : number(row.value));
    line.push_back(statuses_text(row));
    table.cells.push_back(std::move(line));
  }
  return table;
}

std::string search_points_text(const SearchView& view) {
  if (view.rows.empty()) return "";
  const SearchTable table = search_points_table(view);
  return render_text_table(table.header, table.cells, TextTableFormat::aligned) +
         "(* the best point; #: the order the search asked for them)\n";
}

std::string search_curve_text(const SearchView& view, int width, int height) {
  std::vector<const SearchRow*> drawn;
  for (const SearchRow& row : view.rows)
    if (row.metric && std::isfinite(*row.metric)) drawn.push_back(&row);
  if (drawn.size() < 2 || width < 2 || height < 2) return "";
  const auto [low, high] = std::minmax_element(
      drawn.begin(), drawn.end(), [](auto* a, auto* b) { return *a->metric < *b->metric; });
  const double y_lo = *(*low)->metric, y_hi = *(*high)->metric;
  const double x_lo = view.spec.lo, x_hi = view.spec.hi;
  std::vector<std::string> grid(height, std::string(width, ' '));
  const auto rank = [](char c) { return c == '@' ? 3 : c == 'x' ? 2 : c == 'o' ? 1 : 0; };
  for (const SearchRow* row : drawn) {
    const double fx = x_hi > x_lo ? (row->x - x_lo) / (x_hi - x_lo) : 0.5;
    const double fy = y_hi > y_lo ? (*row->metric - y_lo) / (y_hi - y_lo) : 0.5;
    const int col = std::clamp(static_cast<int>(std::lround(fx * (width - 1))), 0, width - 1);
    const int line =
        std::clamp(static_cast<int>(std::lround((1 - fy) * (height - 1))), 0, height - 1);
    const char mark = row->best ? '@' : row->infeasible ? 'x' : 'o';
    char& cell = grid[line][col];
    if (rank(mark) > rank(cell)) cell = mark;
  }
  const std::string top = number(y_hi), bottom = number(y_lo);
  const size_t margin = std::max(top.size(), bottom.size());
  std::string out =
      fmt::format("{} over {} (o a point, @ the best{})\n", to_string(view.spec.objective.metric),
                  view.spec.key, view.spec.objective.max_ratio ? ", x over the ratio bound" : "");
  for (int i = 0; i < height; ++i) {
    const std::string label = i == 0 ? top : i == height - 1 ? bottom : "";
    std::string line = fmt::format("{:>{}} |{}", label, margin, grid[i]);
    line.erase(line.find_last_not_of(' ') + 1);
    out += line + "\n";
  }
  out += fmt::format("{:>{}} +{}\n", "", margin, std::string(width, '-'));
  const std::string left = number(x_lo), right = number(x_hi);
  const int gap = std::max(1, width - static_cast<int>(left.size() + right.size()));
  out += fmt::format("{:>{}}  {}{}{}\n", "", margin, left, std::string(gap, ' '), right);
  return out;
}

std::string search_text(const SearchView& view) {
  return search_spec_text(view.spec, view.seeds) + search_state_text(view) +
         search_points_text(view);
}

json search_json(const SearchView& view) {
  const SearchSpec& spec = view.spec;
  json objective = {{"metric", to_string(spec.objective.metric)},
                    {"maximize", spec.objective.maximize},
                    {"max_ratio", number_or_null(spec.objective.max_ratio)}};
  json points = json::array();
  for (const SearchRow& row : view.rows) {
    json trials = json::array();
    for (size_t i = 0; i < row.hashes.size(); ++i)
      trials.push_back({{"hash", row.hashes[i]},
                        {"seed", i < row.seeds.size() ? row.seeds[i] : 0},
                        {"status", i < row.statuses.size() ? row.statuses[i] : "absent"}});
    points.push_back({{"x", row.x},
                      {"order", row.order},
                      {"known", row.known},
                      {"failed", row.failed},
                      {"value", number_or_null(row.value)},
                      {"metric", number_or_null(row.metric)},
                      {"val_ppl", number_or_null(row.val_ppl)},
                      {"ratio", number_or_null(row.ratio)},
                      {"last_in_block", number_or_null(row.last_in_block)},
                      {"infeasible", row.infeasible},
                      {"best", row.best},
                      {"trials", std::move(trials)}});
  }
  json best = nullptr;
  if (view.best) {
    const SearchRow& row = view.rows[*view.best];
    best = {{"x", row.x},
            {"order", row.order},
            {"value", number_or_null(row.value)},
            {"metric", number_or_null(row.metric)}};
  }
  json baselines = json::array();
  for (const auto& b : view.baselines)
    baselines.push_back({{"hash", b.hash}, {"seed", b.seed}, {"status", b.status}});
  return {{"key", spec.key},
          {"interval", {spec.lo, spec.hi}},
          {"method", to_string(spec.method)},
          {"objective", std::move(objective)},
          {"budget", spec.budget},
          {"tolerance", spec.tolerance},
          {"parallel", spec.parallel},
          {"seeds", view.seeds},
          {"finished", view.finished},
          {"why", view.why},
          {"evaluated", view.evaluated},
          {"pending", view.pending},
          {"best", std::move(best)},
          {"points", std::move(points)},
          {"baselines", std::move(baselines)}};
}

namespace {

// The stored spec names a search (a top-level `search:`): checked before the whole spec is
// parsed, so a sweep without one never depends on its stored spec still parsing.
bool names_a_search(const std::string& yaml) {
  try {
    const YAML::Node root = YAML::Load(yaml);
    return root.IsMap() && root["search"];
  } catch (const YAML::Exception&) {
    return false;
  }
}

}  // namespace

std::optional<SearchProgress> recorded_search(Database& db, const std::string& sweep) {
  const report::SweepInfo info = report::read_sweep_info(db, sweep);
  if (!names_a_search(info.spec_yaml)) return std::nullopt;
  namespace fs = std::filesystem;
  const std::string file = info.spec_file.empty() ? "<recorded spec>" : info.spec_file;
  const std::string dir = info.spec_file.empty()
                              ? fs::current_path().string()
                              : fs::absolute(info.spec_file).parent_path().string();
  try {
    const SweepSpec spec = parse_sweep(info.spec_yaml, file, dir);
    if (!spec.search) return std::nullopt;
    return search_progress(spec, &db);
  } catch (const InputError& e) {
    throw InputError("sweep '" + sweep + "' in '" + db.path() +
                     "': its search cannot be replayed from the spec recorded with it (" +
                     e.what() + "); `locsweep plan SPEC --db` replays it from a spec file instead");
  }
}

}  // namespace locsweep
