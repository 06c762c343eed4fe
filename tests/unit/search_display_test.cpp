// The one rendering of a search's progress (results/search_display.hpp), from SearchProgress
// values built by hand: rows sorted by x with the best marked, the text `plan` and
// `results` print, the ASCII curve, and the JSON.
#include "results/search_display.hpp"

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <sstream>

#include "common/error.hpp"
#include "results/report_html.hpp"
#include "results/store.hpp"
#include "support/temp_dir.hpp"
#include "sweeps/plan.hpp"

namespace locsweep {
namespace {

constexpr const char* kBeta = "locality.schedule.beta";

struct PointSpec {
  PointSpec(double x_, std::vector<std::string> statuses_, std::vector<double> val_loss_,
            std::vector<double> baseline_loss_ = {}, bool failed_ = false)
      : x(x_),
        statuses(std::move(statuses_)),
        val_loss(std::move(val_loss_)),
        baseline_loss(std::move(baseline_loss_)),
        failed(failed_) {}
  double x;
  std::vector<std::string> statuses;  // per seed
  std::vector<double> val_loss;       // per done seed
  std::vector<double> baseline_loss;  // per done seed; empty: no baseline
  bool failed;
};

SearchSpec beta_spec() {
  SearchSpec spec;
  spec.key = kBeta;
  spec.lo = 1;
  spec.hi = 20;
  spec.method = SearchMethod::brent;
  spec.objective.metric = SearchMetric::val_ppl;
  spec.budget = 20;
  spec.tolerance = 0.01;
  return spec;
}

SearchPoint point_of(const PointSpec& p) {
  SearchPoint point;
  point.x = p.x;
  for (size_t i = 0; i < p.statuses.size(); ++i) {
    PlannedTrial trial;
    trial.hash = "hash-" + std::to_string(p.x) + "-" + std::to_string(i);
    trial.config.seed = static_cast<int>(i);
    point.trials.push_back(trial);
  }
  point.statuses = p.statuses;
  for (size_t i = 0; i < p.val_loss.size(); ++i) {
    SeedFigures f;
    f.val_loss = p.val_loss[i];
    if (i < p.baseline_loss.size()) f.baseline_val_loss = p.baseline_loss[i];
    point.figures.push_back(f);
  }
  return point;
}

// A progress whose points are asked in the given order; values computed from the figures
// once every seed ended, as search_progress() does.
SearchProgress progress_of(SearchSpec spec, const std::vector<PointSpec>& points,
                           std::optional<size_t> best, bool finished, std::string why) {
  SearchProgress progress;
  progress.spec = spec;
  for (const auto& p : points) {
    SearchPoint point = point_of(p);
    const bool ended = std::all_of(p.statuses.begin(), p.statuses.end(),
                                   [](const auto& s) { return s == "done" || s == "failed"; });
    if (ended)
      point.value =
          PointValue{p.failed, p.failed ? 0.0 : *objective_value(spec.objective, point.figures)};
    else
      progress.state.pending.push_back(p.x);
    progress.state.asked.push_back(p.x);
    progress.points.push_back(point);
  }
  progress.state.best = best;
  progress.state.finished = finished;
  progress.state.why = std::move(why);
  return progress;
}

// The quadratic of the noop synthetic loss: floor + curvature (x - 7.3)^2.
double loss_at(double x) {
  return 3.0 + 0.05 * (x - 7.3) * (x - 7.3);
}

SearchProgress finished_search() {
  return progress_of(beta_spec(),
                     {{10.5, {"done"}, {loss_at(10.5)}},
                      {1, {"done"}, {loss_at(1)}},
                      {20, {"done"}, {loss_at(20)}},
                      {7.3, {"done"}, {loss_at(7.3)}},
                      {6, {"done"}, {loss_at(6)}}},
                     3, true, "converged (bracket 0.0093 wide)");
}

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

// How often `mark` appears in the plot area of a curve (its lines after the legend, up to the
// axis; each after its '|').
long marks_in_plot(const std::vector<std::string>& lines, char mark) {
  long n = 0;
  for (size_t i = 1; i < lines.size() && lines[i].find('+') == std::string::npos; ++i) {
    const std::string& line = lines[i];
    n += std::count(line.begin() + static_cast<long>(line.find('|')), line.end(), mark);
  }
  return n;
}

TEST(SearchDisplay, RowsAreSortedByXWithTheBestMarkedAndTheirAskOrderKept) {
  const SearchView view = search_view(finished_search());
  ASSERT_EQ(view.rows.size(), 5u);
  const std::vector<double> xs = {1, 6, 7.3, 10.5, 20};
  const std::vector<size_t> orders = {2, 5, 4, 1, 3};
  for (size_t i = 0; i < xs.size(); ++i) {
    EXPECT_EQ(view.rows[i].x, xs[i]);
    EXPECT_EQ(view.rows[i].order, orders[i]);
    EXPECT_EQ(view.rows[i].best, i == 2) << i;
  }
  ASSERT_TRUE(view.best.has_value());
  EXPECT_EQ(*view.best, 2u);
  EXPECT_EQ(view.evaluated, 5u);
  EXPECT_TRUE(view.pending.empty());
  EXPECT_NEAR(*view.rows[2].val_ppl, std::exp(3.0), 1e-9);
  EXPECT_NEAR(*view.rows[2].metric, std::exp(3.0), 1e-9);
  EXPECT_FALSE(view.rows[2].ratio.has_value());  // no baselines
}

TEST(SearchDisplay, TextShowsTheSpecTheStateTheBestAndEveryPoint) {
  const std::string text = search_text(search_view(finished_search()));
  EXPECT_NE(text.find("search locality.schedule.beta in [1, 20]: brent, minimise val_ppl, "
                      "budget 20 points, tolerance 0.01, 1 seed per point"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("finished: converged (bracket 0.0093 wide); 5 points evaluated, 0 pending"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("best locality.schedule.beta = 7.3 (val_ppl 20.0855)"), std::string::npos)
      << text;
  // The table: a row per point in x order, only the best starred.
  const auto lines = lines_of(search_points_text(search_view(finished_search())));
  ASSERT_GE(lines.size(), 7u);
  EXPECT_NE(lines[0].find("val_ppl"), std::string::npos);
  EXPECT_EQ(lines[0].find("ratio"), std::string::npos);  // no baseline, no ratio column
  const std::vector<std::string> xs = {"1", "6", "7.3", "10.5", "20"};
  for (size_t i = 0; i < xs.size(); ++i) {
    const std::string& line = lines[2 + i];
    EXPECT_NE(line.find("  " + xs[i] + " "), std::string::npos) << line;
    EXPECT_EQ(line[0] == '*', i == 2) << line;
    EXPECT_NE(line.find("done"), std::string::npos) << line;
  }
}

TEST(SearchDisplay, AHalfDoneSearchShowsItsPendingPointsAndNoValueForThem) {
  const SearchProgress progress =
      progress_of(beta_spec(),
                  {{10.5, {"done", "done"}, {loss_at(10.5), loss_at(10.5)}},
                   {13.7, {"done", "running"}, {loss_at(13.7)}}},
                  0, false, "");
  const SearchView view = search_view(progress);
  EXPECT_EQ(view.seeds, 2u);
  EXPECT_EQ(view.evaluated, 1u);
  ASSERT_EQ(view.pending.size(), 1u);
  EXPECT_EQ(view.pending[0], 13.7);
  EXPECT_FALSE(view.rows[1].known);
  EXPECT_FALSE(view.rows[1].value.has_value());
  const std::string text = search_text(view);
  EXPECT_NE(text.find("not finished; 1 point evaluated, 1 pending (locality.schedule.beta = 13.7)"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("2 seeds per point"), std::string::npos) << text;
  EXPECT_NE(text.find("0:done 1:running"), std::string::npos) << text;
  const nlohmann::json j = search_json(view);
  EXPECT_FALSE(j["finished"].get<bool>());
  EXPECT_EQ(j["pending"], nlohmann::json::array({13.7}));
  EXPECT_TRUE(j["points"][1]["value"].is_null());
  EXPECT_EQ(j["points"][1]["trials"][1]["status"], "running");
  EXPECT_EQ(j["points"][1]["trials"][1]["seed"], 1);
}

TEST(SearchDisplay, NothingAskedYetShowsTheFirstPointAndNoBest) {
  const SearchProgress progress =
      progress_of(beta_spec(), {{10.5, {"absent"}, {}}}, std::nullopt, false, "");
  const std::string text = search_text(search_view(progress));
  EXPECT_NE(text.find("0 points evaluated, 1 pending (locality.schedule.beta = 10.5)"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("best: none yet"), std::string::npos) << text;
  EXPECT_TRUE(search_curve_text(search_view(progress)).empty());  // nothing to draw
  EXPECT_TRUE(search_json(search_view(progress))["best"].is_null());
}

TEST(SearchDisplay, CurvePlacesEachPointByItsXAndMetricAndMarksTheBest) {
  const int width = 39, height = 10;  // x: (x - 1) / 19 * 38 columns: 1 -> 0, 20 -> 38
  const std::string curve = search_curve_text(search_view(finished_search()), width, height);
  const auto lines = lines_of(curve);
  ASSERT_EQ(lines.size(), static_cast<size_t>(1 + height + 2)) << curve;
  EXPECT_NE(lines[0].find("val_ppl over locality.schedule.beta"), std::string::npos);
  const size_t axis = lines[1].find('|');
  ASSERT_NE(axis, std::string::npos);
  const auto at = [&](int line, int column) {
    const std::string& l = lines[1 + line];
    const size_t i = axis + 1 + column;
    return i < l.size() ? l[i] : ' ';
  };
  // The highest metric (x = 20) on the top line, the lowest (the best, 7.3) on the bottom one.
  EXPECT_EQ(at(0, 38), 'o') << curve;
  EXPECT_EQ(at(height - 1, 13), '@') << curve;  // (7.3 - 1) / 19 * 38 = 12.6
  EXPECT_EQ(marks_in_plot(lines, '@'), 1) << curve;
  EXPECT_EQ(marks_in_plot(lines, 'o'), 4) << curve;
  EXPECT_NE(lines[1].find(fmt::format("{:.6g}", std::exp(loss_at(20)))), std::string::npos)
      << curve;
  EXPECT_NE(lines.back().find("1"), std::string::npos);
  EXPECT_NE(lines.back().find("20"), std::string::npos);
}

TEST(SearchDisplay, ConstrainedObjectiveShowsRatioObjectiveAndInfeasiblePoints) {
  SearchSpec spec = beta_spec();
  spec.objective.metric = SearchMetric::val_loss;
  spec.objective.maximize = false;
  spec.objective.max_ratio = 1.05;
  // ratio = exp(loss - baseline): 1.0 -> 1, 1.1 -> 1.105 (over 1.05)
  const SearchProgress progress =
      progress_of(spec, {{4, {"done"}, {3.0}, {3.0}}, {8, {"done"}, {3.1}, {3.0}}}, 0, false, "");
  const SearchView view = search_view(progress);
  ASSERT_EQ(view.rows.size(), 2u);
  EXPECT_FALSE(view.rows[0].infeasible);
  EXPECT_TRUE(view.rows[1].infeasible);
  EXPECT_NEAR(*view.rows[1].ratio, std::exp(0.1), 1e-12);
  const std::string text = search_text(view);
  EXPECT_NE(text.find("minimise val_loss subject to ratio <= 1.05"), std::string::npos) << text;
  const auto lines = lines_of(search_points_text(view));
  EXPECT_NE(lines[0].find("val_loss"), std::string::npos) << lines[0];
  EXPECT_NE(lines[0].find("ratio"), std::string::npos) << lines[0];
  EXPECT_NE(lines[0].find("objective"), std::string::npos) << lines[0];
  EXPECT_NE(lines[3].find("(over)"), std::string::npos) << lines[3];
  EXPECT_EQ(lines[2].find("(over)"), std::string::npos) << lines[2];
  const auto curve = lines_of(search_curve_text(view, 20, 5));
  EXPECT_EQ(marks_in_plot(curve, 'x'), 1);
  EXPECT_EQ(marks_in_plot(curve, '@'), 1);
  const nlohmann::json j = search_json(view);
  EXPECT_EQ(j["objective"]["max_ratio"], 1.05);
  EXPECT_TRUE(j["points"][1]["infeasible"].get<bool>());
  EXPECT_NEAR(j["points"][1]["ratio"].get<double>(), std::exp(0.1), 1e-12);
}

TEST(SearchDisplay, JsonHasTheSpecEveryPointSortedByXAndTheBest) {
  const nlohmann::json j = search_json(search_view(finished_search()));
  EXPECT_EQ(j["key"], kBeta);
  EXPECT_EQ(j["interval"], nlohmann::json::array({1.0, 20.0}));
  EXPECT_EQ(j["method"], "brent");
  EXPECT_EQ(j["objective"]["metric"], "val_ppl");
  EXPECT_TRUE(j["objective"]["max_ratio"].is_null());
  EXPECT_EQ(j["budget"], 20);
  EXPECT_TRUE(j["finished"].get<bool>());
  EXPECT_EQ(j["why"], "converged (bracket 0.0093 wide)");
  EXPECT_EQ(j["evaluated"], 5);
  ASSERT_EQ(j["points"].size(), 5u);
  double previous = -1;
  for (const auto& p : j["points"]) {
    EXPECT_GT(p["x"].get<double>(), previous);
    previous = p["x"].get<double>();
    EXPECT_TRUE(p["ratio"].is_null());
  }
  EXPECT_EQ(j["best"]["x"], 7.3);
  EXPECT_EQ(j["best"]["order"], 4);
  EXPECT_NEAR(j["best"]["metric"].get<double>(), std::exp(3.0), 1e-9);
  EXPECT_TRUE(j["points"][2]["best"].get<bool>());
}

TEST(SearchDisplay, FailedPointIsShownFailedWithoutAValue) {
  SearchSpec spec = beta_spec();
  spec.objective.maximize = true;  // an objective column
  const SearchProgress progress =
      progress_of(spec, {{3, {"failed"}, {}, {}, true}, {5, {"done"}, {3.5}}}, 1, false, "");
  const SearchView view = search_view(progress);
  EXPECT_TRUE(view.rows[0].failed);
  EXPECT_TRUE(view.rows[0].known);
  EXPECT_FALSE(view.rows[0].value.has_value());
  const auto lines = lines_of(search_points_text(view));
  EXPECT_NE(lines[2].find("failed"), std::string::npos) << lines[2];
  EXPECT_NE(search_text(view).find("maximise val_ppl"), std::string::npos);
  EXPECT_TRUE(search_json(view)["points"][0]["failed"].get<bool>());
}

// The report's Search section (results/report_html.hpp) from the same view.
std::string page_with(const report::SearchSection& search) {
  static const report::SweepInfo info{"s", "name: s", "", "t", "t", ""};
  static const ResultsTable table;
  static const std::vector<report::Figure> figures;
  static const std::vector<std::vector<std::string>> runs;
  return report::render_page({info, table, figures, runs, "r.sqlite", "", "t"}, search);
}

TEST(SearchReport, SectionHasTheStateAndOneRowPerPointInXOrderWithTheBestMarked) {
  const SearchView view = search_view(finished_search());
  report::Figure figure{"plot-search", "Search: val_ppl", "caption"};
  figure.svg = "<svg id=\"x\"></svg>";
  const std::string html = page_with({&view, &figure, ""});
  EXPECT_NE(html.find("<a href=\"#search\">Search</a>"), std::string::npos);
  const size_t section = html.find("<section id=\"search\">");
  ASSERT_NE(section, std::string::npos) << html;
  EXPECT_LT(section, html.find("<section id=\"plots\">"));
  EXPECT_NE(html.find("<p class=\"search-state\">finished: converged (bracket 0.0093 wide); 5 "
                      "points evaluated, 0 pending</p>"),
            std::string::npos)
      << html;
  EXPECT_NE(html.find("<p class=\"search-state\">best locality.schedule.beta = 7.3 (val_ppl "
                      "20.0855)</p>"),
            std::string::npos);
  // Rows in x order, the best one (7.3) marked; the figure is Figure 1 of the page.
  std::vector<std::string> xs;
  for (size_t at = html.find("<tr class=\"search-point"); at != std::string::npos;
       at = html.find("<tr class=\"search-point", at + 1)) {
    const bool best = html.compare(at, 29, "<tr class=\"search-point best\"") == 0;
    size_t cell = at;
    for (int i = 0; i < 3; ++i) cell = html.find("<td>", cell + 1);
    const std::string x = html.substr(cell + 4, html.find("</td>", cell) - cell - 4);
    xs.push_back(x + (best ? "*" : ""));
  }
  EXPECT_EQ(xs, (std::vector<std::string>{"1", "6", "7.3*", "10.5", "20"}));
  EXPECT_NE(html.find("<h3>Figure 1. Search: val_ppl</h3>"), std::string::npos);
}

TEST(SearchReport, NoSectionWithoutASearchAndANoteWhenItCannotBeReplayed) {
  const std::string plain = page_with({});
  EXPECT_EQ(plain.find("id=\"search\""), std::string::npos);
  EXPECT_EQ(plain.find("#search"), std::string::npos);
  const std::string noted = page_with({nullptr, nullptr, "sweep 's': cannot be <replayed>"});
  EXPECT_NE(noted.find("<p class=\"note\">sweep &#39;s&#39;: cannot be &lt;replayed&gt;</p>"),
            std::string::npos)
      << noted;
}

// recorded_search: the search of a sweep in a database, replayed from the spec stored with it.
constexpr const char* kNoopSearch = R"(name: s
kind: noop
locality: {schedule: quintic}
noop: {loss: {key: locality.schedule.beta, center: 7.3, curvature: 0.05, floor: 3.0}}
search: {key: locality.schedule.beta, interval: [1, 20], objective: val_loss, budget: 7}
)";

class RecordedSearch : public testing::Test {
 protected:
  // Registers the sweep of `yaml` (its fixed trials) in a fresh database.
  ResultsStore registered(const std::string& yaml) {
    const SweepSpec spec = parse_sweep(yaml, "s.yaml", dir_.path().string());
    ResultsStore store = ResultsStore::open_for_writing((dir_.path() / "r.sqlite").string());
    store.sync_sweep(spec, plan_sweep(spec), (dir_.path() / "art").string(), false);
    return store;
  }
  test_support::TempDir dir_;
};

TEST_F(RecordedSearch, ReplaysTheSpecStoredWithTheSweep) {
  ResultsStore store = registered(kNoopSearch);
  const auto progress = recorded_search(store.db(), "s");
  ASSERT_TRUE(progress.has_value());
  EXPECT_EQ(progress->spec.key, kBeta);
  EXPECT_EQ(progress->spec.budget, 7);
  EXPECT_FALSE(progress->state.finished);
  ASSERT_EQ(progress->state.pending.size(), 1u);  // nothing ran: the first point
  EXPECT_NE(search_text(search_view(*progress)).find("0 points evaluated, 1 pending"),
            std::string::npos);
}

TEST_F(RecordedSearch, NothingForASweepWithoutASearch) {
  ResultsStore store = registered("name: s\nkind: noop\ngrid: {noop.duration_s: [0, 0.1]}\n");
  EXPECT_FALSE(recorded_search(store.db(), "s").has_value());
}

TEST_F(RecordedSearch, AStoredSpecThatCannotBeReplayedIsAnInputErrorSayingSo) {
  ResultsStore store = registered(kNoopSearch);
  store.db().exec(
      "UPDATE sweeps SET spec_yaml = 'name: s\nkind: noop\nsearch: {key: no.such.key, "
      "interval: [1, 2]}\n'");
  try {
    recorded_search(store.db(), "s");
    FAIL() << "a stored search that does not parse was replayed";
  } catch (const InputError& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find("sweep 's'"), std::string::npos) << what;
    EXPECT_NE(what.find("cannot be replayed from the spec recorded with it"), std::string::npos)
        << what;
    EXPECT_NE(what.find("no.such.key"), std::string::npos) << what;
  }
}

}  // namespace
}  // namespace locsweep
