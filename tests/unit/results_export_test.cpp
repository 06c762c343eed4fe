// The pandas-ready exports of `locsweep results` (results/table.hpp, results/curves.hpp) read
// back with python3-pandas: numeric columns are floats, missing values NaN (no "-"), every
// number equals the database's to the last bit; and `status` and `results` count a sweep's
// trials by status the same way on one database.
#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>

#include "common/files.hpp"
#include "results/curves.hpp"
#include "results/queries.hpp"
#include "results/schema.hpp"
#include "results/table.hpp"
#include "support/python.hpp"
#include "support/temp_dir.hpp"

namespace locsweep {
namespace {

// One sweep: distributed and localist (2 seeds each, done), quintic (seed 0 done, seed 1
// running), linear (pending). Perplexities, lambdas and losses with all their digits.
void fill(Database& db) {
  ensure_schema(db, true);
  db.exec(
      "INSERT INTO sweeps(id, name, spec_yaml, created_at, updated_at) VALUES (1, 'x', 'name: x', "
      "'t', 't')");
  struct T {
    const char* mechanism;
    const char* schedule;
    int seed;
    const char* status;
  };
  const T trials[] = {{"none", "distributed", 0, "done"}, {"none", "distributed", 1, "done"},
                      {"block", "localist", 0, "done"},   {"block", "localist", 1, "done"},
                      {"block", "quintic", 0, "done"},    {"block", "quintic", 1, "running"},
                      {"block", "linear", 0, "pending"}};
  int position = 0;
  for (const T& t : trials) {
    const std::string hash = std::string(t.schedule) + std::to_string(t.seed);
    const std::string canonical = std::string("{\"locality\":{\"mechanism\":\"") + t.mechanism +
                                  "\",\"schedule\":\"" + t.schedule +
                                  "\"},\"seed\":" + std::to_string(t.seed) + "}";
    const bool done = std::string(t.status) == "done";
    const double ppl = 26.0 + position / 7.0 + t.seed * 0.123456789012345;
    auto insert = db.prepare(
        "INSERT INTO trials(hash, label, kind, mechanism, schedule, seed, config_json, "
        "canonical_json, out_dir, status, attempts, val_ppl, created_at) "
        "VALUES (?, ?, 'gpt2', ?, ?, ?, '{}', ?, '/x', ?, ?, ?, 't')");
    insert.bind(1, hash)
        .bind(2, std::string(t.mechanism) + " " + t.schedule + ", seed=" + std::to_string(t.seed))
        .bind(3, t.mechanism)
        .bind(4, t.schedule)
        .bind(5, t.seed)
        .bind(6, canonical)
        .bind(7, t.status)
        .bind(8, std::string(t.status) == "pending" ? 0 : 1);
    if (done)
      insert.bind(9, ppl);
    else
      insert.bind_null(9);
    insert.run();
    db.prepare("INSERT INTO sweep_trials VALUES (1, ?, ?, ?)")
        .bind(1, hash)
        .bind(2, position++)
        .bind(3, std::string("{\"locality.schedule\":\"") + t.schedule +
                     "\",\"seed\":" + std::to_string(t.seed) + ",\"train.lr\":0.0003}")
        .run();
    if (done)
      for (int layer = 0; layer < 3; ++layer)
        db.prepare("INSERT INTO head_metrics VALUES (?, ?, 0, ?, ?, 0.7, ?, 3.1)")
            .bind(1, hash)
            .bind(2, layer)
            .bind(3, std::string(t.schedule) == "distributed" ? 0.0 : (layer + 1) / 3.0)
            .bind(4, 4.0 / (layer + 3))
            .bind(5, 0.6 + layer / 7.0)
            .run();
    if (std::string(t.status) != "pending")
      for (int step = 1; step <= 4; ++step) {
        db.prepare(
              "INSERT INTO step_metrics(trial_hash, split, step, loss, lr, tokens_per_s) "
              "VALUES (?, 'train', ?, ?, ?, ?)")
            .bind(1, hash)
            .bind(2, step)
            .bind(3, 5.0 - step / 3.0)
            .bind(4, 3e-4 * step / 4.0)
            .bind(5, 1000.0 / 3.0 * step)
            .run();
        if (step % 2 == 0)
          db.prepare(
                "INSERT INTO step_metrics(trial_hash, split, step, loss) VALUES (?, 'val', ?, ?)")
              .bind(1, hash)
              .bind(2, step)
              .bind(3, 4.9 - step / 7.0)
              .run();
      }
  }
  db.exec(
      "INSERT INTO attempts(trial_hash, number, worker_rank, host, status, started_at) VALUES "
      "('quintic1', 1, 2, 'node7', 'running', 't')");
}

class ResultsExport : public testing::Test {
 protected:
  void SetUp() override {
    Database db(db_path(), Database::Mode::read_write_create);
    fill(db);
  }
  std::string db_path() const { return (dir_ / "r.sqlite").string(); }
  std::string write(const std::string& name, const std::string& text) const {
    const std::string path = (dir_ / name).string();
    write_file_atomic(path, text);
    return path;
  }
  std::string curves(TableFormat format, const std::string& name) const {
    Database db(db_path(), Database::Mode::read_only);
    const std::string path = (dir_ / name).string();
    std::FILE* out = std::fopen(path.c_str(), "w");
    write_curves(db, {}, format, out);
    std::fclose(out);
    return path;
  }
  test_support::TempDir dir_{"results_export"};
};

TEST_F(ResultsExport, StatusAndResultsCountTrialsTheSameWay) {
  Database db(db_path(), Database::Mode::read_only);
  const ResultsTable table = build_results_table(db, {});
  const auto progress = sweep_progress(db);
  ASSERT_EQ(progress.size(), 1u);
  const SweepProgress& p = progress.front();
  EXPECT_EQ(table.done, p.done);
  EXPECT_EQ(table.running, p.running);
  EXPECT_EQ(table.failed, p.failed);
  EXPECT_EQ(table.pending, p.pending);
  EXPECT_EQ(table.running, 1);
  EXPECT_EQ(table.pending, 1);  // the running trial used to be counted pending here
  ASSERT_EQ(p.running_trials.size(), 1u);
  EXPECT_EQ(p.running_trials[0].hash, "quintic1");
  EXPECT_EQ(p.running_trials[0].rank, 2);
  EXPECT_EQ(p.running_trials[0].host, "node7");
  EXPECT_EQ(p.running_trials[0].step, 4);
  const std::string text = render_results(table, TableFormat::table, false);
  EXPECT_NE(text.find("7 trials, 5 done, 1 running, 0 failed, 1 pending"), std::string::npos)
      << text;
}

TEST_F(ResultsExport, TextTableStaysRoundedWithDashes) {
  Database db(db_path(), Database::Mode::read_only);
  const std::string text = render_results(build_results_table(db, {}), TableFormat::table, false);
  EXPECT_NE(text.find(" - "), std::string::npos) << text;  // distributed: no beta
  EXPECT_EQ(text.find("0.123456789"), std::string::npos) << text;
}

TEST_F(ResultsExport, CsvAndJsonLoadIntoPandasWithNanAndFullPrecision) {
  if (!test_support::python_can_import("pandas, numpy"))
    GTEST_SKIP() << "python3-pandas is not installed (scripts/setup.sh --with-test-tools)";
  Database db(db_path(), Database::Mode::read_only);
  const ResultsTable table = build_results_table(db, {});
  write("summary.csv", render_results(table, TableFormat::csv, false));
  write("summary.json", render_results(table, TableFormat::json, false));
  write("layers.csv", render_results(table, TableFormat::csv, true));
  curves(TableFormat::csv, "curves.csv");
  curves(TableFormat::json, "curves.json");
  const char* script = R"py(
import json, sqlite3, sys
import numpy as np, pandas as pd
d, dbpath = sys.argv[1], sys.argv[2]
db = sqlite3.connect(f"file:{dbpath}?mode=ro", uri=True)
def check(cond, what):
    if not cond:
        print("FAIL:", what); sys.exit(1)

s = pd.read_csv(f"{d}/summary.csv", float_precision="round_trip")
for col in ["beta", "lambda_min", "lambda_max", "ppl", "ppl_std", "ppl_ci95", "ppl_ci95_low",
            "ppl_ci95_high", "ratio", "ratio_ci95", "ratio_ci95_low", "ratio_ci95_high",
            "gap_closed_pct", "entropy_first", "entropy_last", "in_block_mass"]:
    check(s[col].dtype == np.float64, f"{col} is {s[col].dtype}, not float64")
check(s["seeds"].dtype == np.int64, "seeds is not an integer column")
check(not (s.astype(str) == "-").any().any(), "a '-' cell")
check(list(s["schedule"]) == ["distributed", "localist", "quintic"], list(s["schedule"]))
row = s.set_index("schedule")
# Full precision: a one-seed row's PPL is the DB's value, bit for bit; lambda min/max too.
ppl = db.execute("SELECT val_ppl FROM trials WHERE hash = 'quintic0'").fetchone()[0]
check(row.loc["quintic", "ppl"] == ppl, f"quintic ppl {row.loc['quintic', 'ppl']!r} != {ppl!r}")
lo, hi = db.execute("SELECT min(lambda), max(lambda) FROM head_metrics WHERE trial_hash = 'quintic0'").fetchone()
check(row.loc["quintic", "lambda_min"] == lo and row.loc["quintic", "lambda_max"] == hi, "lambda min/max")
ppls = [r[0] for r in db.execute("SELECT val_ppl FROM trials WHERE schedule = 'localist' ORDER BY seed")]
check(row.loc["localist", "ppl"] == sum(ppls) / 2, "localist mean ppl")
# Missing is NaN: beta of distributed, the spread of one seed; present where measured.
check(np.isnan(row.loc["distributed", "beta"]) and row.loc["quintic", "beta"] == 5, "beta")
for col in ["ppl_std", "ppl_ci95", "ppl_ci95_low", "ratio_ci95", "ratio_ci95_high"]:
    check(np.isnan(row.loc["quintic", col]), f"one seed: {col} should be NaN")
    check(not np.isnan(row.loc["localist", col]), f"two seeds: {col} should be a number")
check(abs(row.loc["localist", "ppl_ci95_low"] - (row.loc["localist", "ppl"] - row.loc["localist", "ppl_ci95"])) < 1e-12, "CI low")
check(abs(row.loc["localist", "ratio_ci95_high"] - (row.loc["localist", "ratio"] + row.loc["localist", "ratio_ci95"])) < 1e-12, "CI high")
check(row.loc["quintic", "ratio_seeds"] == 1 and row.loc["localist", "ratio_seeds"] == 2, "ratio_seeds")
# JSON: the same table, null for missing (no NaN tokens), the counts of `status`.
text = open(f"{d}/summary.json").read()
check("NaN" not in text, "NaN in the JSON")
j = json.loads(text)
check((j["done"], j["running"], j["failed"], j["pending"]) == (5, 1, 0, 1), "JSON counts")
js = pd.DataFrame(j["rows"])
check(list(js.columns) == list(s.columns), f"JSON columns {list(js.columns)} != CSV {list(s.columns)}")
pd.testing.assert_frame_equal(js[s.columns], s, check_exact=True, check_dtype=False)
# Per layer: numbers exact.
l = pd.read_csv(f"{d}/layers.csv", float_precision="round_trip")
check(l["lambda"].dtype == np.float64 and len(l) == 9, "per-layer lambda")
check(sorted(l[l.schedule == "quintic"]["lambda"]) == [r[0] for r in db.execute(
    "SELECT lambda FROM head_metrics WHERE trial_hash = 'quintic0' ORDER BY layer")], "per-layer lambda values")
# Curves, long format: one row per trial, split, step and metric; values exact.
c = pd.read_csv(f"{d}/curves.csv", float_precision="round_trip")
check(list(c.columns) == ["sweep", "trial_hash", "label", "locality.schedule", "seed", "train.lr",
                          "step", "split", "metric", "value"], list(c.columns))
check(c["value"].dtype == np.float64 and c["step"].dtype == np.int64, "curve dtypes")
check(c["train.lr"].dtype == np.float64 and c["seed"].dtype == np.int64, "grid key dtypes")
expected = {}
for h, split, step, loss, lr, tps in db.execute("SELECT trial_hash, split, step, loss, lr, tokens_per_s FROM step_metrics"):
    for metric, v in (("loss", loss), ("lr", lr), ("tokens_per_s", tps)):
        if v is not None:
            expected[h, split, step, metric] = v
got = {(r.trial_hash, r.split, r.step, r.metric): r.value for r in c.itertuples()}
check(got == expected, f"curves differ from step_metrics: {len(got)} vs {len(expected)} values")
check(set(c["label"]) >= {"block quintic, seed=1"}, "labels with commas")
cj = pd.read_json(f"{d}/curves.json", orient="records", precise_float=True)
check(len(cj) == len(c) and list(cj.columns) == list(c.columns), "curves JSON")
check(sorted(cj["value"]) == sorted(c["value"]), "curves JSON values")
print("ok")
)py";
  const ProgramResult r = test_support::run_python({"-c", script, dir_.path().string(), db_path()});
  EXPECT_TRUE(r.ok()) << r.out << r.err;
  EXPECT_NE(r.out.find("ok"), std::string::npos) << r.out << r.err;
}

TEST_F(ResultsExport, CurvesRefuseATableFormat) {
  Database db(db_path(), Database::Mode::read_only);
  EXPECT_THROW(write_curves(db, {}, TableFormat::table, stdout), InputError);
}

TEST_F(ResultsExport, CurvesFollowTheWhereFilter) {
  const std::string path = [&] {
    Database db(db_path(), Database::Mode::read_only);
    ResultsQuery q;
    q.where = {{"schedule", "localist"}, {"seed", "1"}};
    const std::string out = (dir_ / "f.csv").string();
    std::FILE* f = std::fopen(out.c_str(), "w");
    write_curves(db, q, TableFormat::csv, f);
    std::fclose(f);
    return out;
  }();
  const std::string text = read_file(path);
  EXPECT_NE(text.find(",localist1,"), std::string::npos) << text;
  EXPECT_EQ(text.find(",localist0,"), std::string::npos) << text;
  EXPECT_EQ(text.find("quintic"), std::string::npos) << text;
}

}  // namespace
}  // namespace locsweep
