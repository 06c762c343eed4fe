// The results table's baselines and gap closed (results/table.cpp) on a staged sweep: zero-shot
// rows (train.steps 0) and fine-tuned rows from per-seed bases, each against its own distributed
// baseline; gap closed only where the localist ratio's 95 % CI lies above 1. Expected values
// were computed independently in Python (statistics.mean / stdev, t_{0.975,2} = 4.303):
//   zero-shot ratios  localist 1.025, 1.0222.., 1.02785..  mean 1.0250234411626815 ± 0.00699
//                     quintic  1.0025, 1.0, 1.00633..      mean 1.0029430379746835
//                     gap closed (1.02502 - 1.00294) / 0.02502 = 88.2388758782201 %
//   fine-tuned ratios localist mean 1.0016834350101675 ± 0.0062857 (CI contains 1: no gap;
//                     the bare formula would give quintic 178.8 %)
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "results/report_html.hpp"
#include "results/schema.hpp"
#include "results/table.hpp"
#include "support/temp_dir.hpp"

namespace locsweep {
namespace {

using nlohmann::json;

json locality(const std::string& schedule) {
  return {{"mechanism", schedule == "distributed" ? "none" : "block"}, {"schedule", schedule}};
}

// A base trial per seed (pretrained on sotu, 1000 steps), and for each seed a zero-shot
// (steps 0) and a fine-tuned (steps 150) trial of three schedules initialised from it.
class StagedTable : public ::testing::Test {
 protected:
  test_support::TempDir dir{"results_gap_test"};
  std::string path = (dir / "r.sqlite").string();
  int position = 0;

  void add(Database& db, const std::string& hash, const json& canonical, const json& assignment,
           double ppl) {
    db.prepare(
          "INSERT INTO trials(hash, label, kind, seed, config_json, canonical_json, out_dir, "
          "status, val_ppl, created_at) VALUES (?, ?, 'gpt2', ?, '{}', ?, '/x', 'done', ?, 't')")
        .bind(1, hash)
        .bind(2, hash)
        .bind(3, canonical["seed"].get<int64_t>())
        .bind(4, canonical.dump())
        .bind(5, ppl)
        .run();
    db.prepare("INSERT INTO sweep_trials VALUES (1, ?, ?, ?)")
        .bind(1, hash)
        .bind(2, static_cast<int64_t>(position++))
        .bind(3, assignment.dump())
        .run();
  }

  void SetUp() override {
    Database db(path, Database::Mode::read_write_create);
    ensure_schema(db, true);
    db.exec(
        "INSERT INTO sweeps(id, name, spec_yaml, created_at, updated_at) VALUES (1, 'staged', "
        "'name: staged', 't', 't')");
    const std::map<std::pair<int, std::string>, std::vector<double>> ppl = {
        {{0, "distributed"}, {8.0, 8.1, 7.9}},    {{0, "localist"}, {8.2, 8.28, 8.12}},
        {{0, "quintic"}, {8.02, 8.1, 7.95}},      {{150, "distributed"}, {5.0, 5.05, 4.95}},
        {{150, "localist"}, {5.01, 5.045, 4.97}}, {{150, "quintic"}, {4.99, 5.04, 4.95}},
    };
    for (int seed = 0; seed < 3; ++seed) {
      const std::string base = "base" + std::to_string(seed);
      add(db, base,
          {{"kind", "gpt2"},
           {"seed", seed},
           {"model", {{"n_layer", 4}, {"init", "scratch"}}},
           {"data", {{"corpus", "sha256:sotu"}}},
           {"train", {{"steps", 1000}}},
           {"locality", locality("distributed")}},
          json::object(), 6.0 + seed);
      for (const auto& [key, values] : ppl) {
        const auto& [steps, schedule] = key;
        add(db, schedule + std::to_string(steps) + "s" + std::to_string(seed),
            {{"kind", "gpt2"},
             {"seed", seed},
             {"model", {{"n_layer", 4}, {"init", "trial:" + base}}},
             {"data", {{"corpus", "sha256:moby"}}},
             {"train", {{"steps", steps}}},
             {"locality", locality(schedule)}},
            {{"locality.schedule", schedule}, {"train.steps", steps}, {"seed", seed}},
            values[static_cast<size_t>(seed)]);
      }
    }
  }

  const ConfigRow& row(const ResultsTable& t, const std::string& config) {
    for (const auto& r : t.rows)
      if (r.config == config) return r;
    throw std::runtime_error("no row " + config);
  }
};

TEST_F(StagedTable, PerSeedBasesGiveOneRowPerConfigurationOverAllSeeds) {
  Database db(path, Database::Mode::read_only);
  const ResultsTable t = build_results_table(db, ResultsQuery{});
  ASSERT_EQ(t.rows.size(), 7u);  // the base configuration + 2 steps x 3 schedules
  for (const auto& r : t.rows) EXPECT_EQ(r.seeds, 3) << r.config;
  EXPECT_EQ(row(t, "block quintic steps=0").ratio_seeds, 3);
}

TEST_F(StagedTable, ZeroShotAndFineTunedRowsHaveTheirOwnBaselines) {
  Database db(path, Database::Mode::read_only);
  const ResultsTable t = build_results_table(db, ResultsQuery{});
  EXPECT_NEAR(*row(t, "block localist steps=0").ratio, 1.0250234411626815, 1e-12);
  EXPECT_NEAR(*row(t, "block localist steps=0").ratio_ci95, 0.006988475116140909, 1e-12);
  EXPECT_NEAR(*row(t, "block quintic steps=0").ratio, 1.0029430379746835, 1e-12);
  EXPECT_NEAR(*row(t, "block localist steps=150").ratio, 1.0016834350101675, 1e-12);
  EXPECT_NEAR(*row(t, "block localist steps=150").ratio_ci95, 0.006285744025376077, 1e-12);
  EXPECT_DOUBLE_EQ(*row(t, "none distributed steps=0").ratio, 1.0);
  EXPECT_DOUBLE_EQ(*row(t, "none distributed steps=150").ratio, 1.0);
}

TEST_F(StagedTable, GapClosedOnlyWhereTheLocalistCiLiesAboveOne) {
  Database db(path, Database::Mode::read_only);
  const ResultsTable t = build_results_table(db, ResultsQuery{});
  EXPECT_NEAR(*row(t, "block quintic steps=0").gap_closed, 88.2388758782201, 1e-9);
  EXPECT_NEAR(*row(t, "block localist steps=0").gap_closed, 0.0, 1e-9);
  EXPECT_DOUBLE_EQ(*row(t, "none distributed steps=0").gap_closed, 100.0);
  for (const char* config :
       {"block quintic steps=150", "block localist steps=150", "none distributed steps=150"})
    EXPECT_FALSE(row(t, config).gap_closed.has_value()) << config;
  // The renderings say "-" (text, CSV) and null (JSON) where there is no significant gap.
  const std::string csv = render_results(t, TableFormat::csv, false);
  EXPECT_NE(csv.find("88.2"), std::string::npos) << csv;
  const std::string text = render_results(t, TableFormat::table, false);
  EXPECT_NE(text.find("not significantly worse"), std::string::npos) << text;
  const json rows = json::parse(render_results(t, TableFormat::json, false))["rows"];
  int nulls = 0;
  for (const auto& r : rows) nulls += r["gap_closed_pct"].is_null();
  EXPECT_EQ(nulls, 4);  // the three fine-tuned rows and the base's own row (no localist)
}

TEST_F(StagedTable, ReportShowsTheGapOnlyWhereSignificant) {
  Database db(path, Database::Mode::read_only);
  const ResultsTable t = build_results_table(db, ResultsQuery{});
  const report::SweepInfo info{"staged", "name: staged", "", "t", "t", ""};
  const std::vector<report::Figure> figures;
  const std::vector<std::vector<std::string>> runs;
  const std::string html = report::render_page({info, t, figures, runs, "r.sqlite", "", "t"});
  // The gap-closed cell follows the ratio cell ("mean ± ci"); the quintic zero-shot row has
  // 88.2 %, its fine-tuned row the dash.
  EXPECT_NE(html.find("<td>88.2 %</td>"), std::string::npos);
  const size_t ft = html.find("block quintic steps=150");
  ASSERT_NE(ft, std::string::npos);
  const size_t row_end = html.find("</tr>", ft);
  const std::string row = html.substr(ft, row_end - ft);
  EXPECT_EQ(row.find(" %</td>"), std::string::npos) << row;
  EXPECT_NE(row.find("<td>–</td>"), std::string::npos) << row;
}

}  // namespace
}  // namespace locsweep
