// `locsweep results` and `report` on a sweep of noop trials: their canonical configuration has
// no locality section and they measure no perplexity. The table counts them, says why they are
// in no row, and --where on a locality key is an input error, not a JSON type error.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "common/error.hpp"
#include "common/files.hpp"
#include "results/queries.hpp"
#include "results/report.hpp"
#include "results/store.hpp"
#include "results/table.hpp"
#include "support/temp_dir.hpp"
#include "sweeps/plan.hpp"

namespace locsweep {
namespace {

using test_support::TempDir;

// A database holding one noop sweep of four trials, all done.
std::string noop_sweep_db(const TempDir& dir) {
  const std::string db_path = (dir / "r.sqlite").string();
  const SweepSpec spec = parse_sweep(
      "name: n\nkind: noop\ngrid: {noop.duration_s: [0, 0.5]}\nseeds: [0, 1]\n", "n.yaml", "/");
  const Plan plan = plan_sweep(spec);
  EXPECT_EQ(plan.trials.size(), 4u);
  {
    ResultsStore store = ResultsStore::open_for_writing(db_path);
    store.sync_sweep(spec, plan, (dir / "artifacts").string(), false);
  }
  Database db(db_path, Database::Mode::read_write);
  db.exec("UPDATE trials SET status = 'done'");
  return db_path;
}

TEST(NoopResults, TableCountsTheTrialsAndSaysWhyNoRow) {
  TempDir dir;
  Database db = open_results_read_only(noop_sweep_db(dir));
  const ResultsTable table = build_results_table(db, {});
  EXPECT_EQ(table.trials, 4);
  EXPECT_EQ(table.done, 4);
  EXPECT_EQ(table.unmeasured, 4);
  EXPECT_TRUE(table.rows.empty());
  const std::string text = render_results(table, TableFormat::table, false);
  EXPECT_NE(text.find("4 done trials without a validation perplexity"), std::string::npos) << text;
  const auto json = nlohmann::json::parse(render_results(table, TableFormat::json, false));
  EXPECT_EQ(json.at("unmeasured"), 4);
  EXPECT_EQ(json.at("done"), 4);
}

TEST(NoopResults, WhereOnANoopKeyFiltersAndOnALocalityKeyIsAnInputError) {
  TempDir dir;
  Database db = open_results_read_only(noop_sweep_db(dir));
  ResultsQuery q;
  q.where = {{"noop.duration_s", "0.5"}};
  EXPECT_EQ(build_results_table(db, q).trials, 2);
  q.where = {{"mechanism", "block"}};
  try {
    (void)build_results_table(db, q);
    FAIL() << "accepted";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("no trial of sweep 'n' has a value for 'mechanism'"),
              std::string::npos)
        << e.what();
  }
}

TEST(NoopResults, ReportIsWrittenWithANote) {
  TempDir dir;
  Database db = open_results_read_only(noop_sweep_db(dir));
  const std::string html = read_file(write_report(db, "", dir / "out"));
  EXPECT_NE(html.find("id=\"unmeasured\""), std::string::npos);
  EXPECT_NE(html.find("4 done trials"), std::string::npos);
}

}  // namespace
}  // namespace locsweep
