// The configuration names of the results table (results/table.hpp config_name): built from the
// canonical configuration and the grid assignment, never parsed out of a trial's label.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "common/error.hpp"
#include "results/schema.hpp"
#include "results/table.hpp"
#include "support/temp_dir.hpp"

namespace locsweep {
namespace {

using nlohmann::json;

struct NameCase {
  const char* name;
  const char* canonical;
  const char* assignment;
  const char* full;
  const char* without_schedule;
};

const NameCase kNames[] = {
    {"plain", R"({"kind":"gpt2","locality":{"mechanism":"block","schedule":"quintic"},"seed":1})",
     R"({"locality.schedule":"quintic","seed":1})", "block quintic", "block"},
    {"other_axis",
     R"({"kind":"gpt2","locality":{"mechanism":"mask","schedule":"poly:2.5"},"seed":0})",
     R"({"locality.mechanism":"mask","train.lr":0.001,"seed":0})", "mask poly:2.5 lr=0.001",
     "mask lr=0.001"},
    {"string_axis",
     R"({"kind":"gpt2","locality":{"mechanism":"none","schedule":"distributed"},"seed":0})",
     R"({"data.corpus":"sotu"})", "none distributed corpus=sotu", "none corpus=sotu"},
    // The schedule's text inside the mechanism or an axis value is not cut out (the old
    // string search for " <schedule>" in the name could hit the wrong place).
    {"schedule_text_in_axis",
     R"({"kind":"gpt2","locality":{"mechanism":"block","schedule":"linear"},"seed":0})",
     R"({"note":"x linear"})", "block linear note=x linear", "block note=x linear"},
    {"noop", R"({"kind":"noop","noop":{"duration_s":0.5},"seed":3})",
     R"({"noop.duration_s":0.5,"seed":3})", "noop duration_s=0.5", "noop duration_s=0.5"},
};

TEST(ResultsTable, ConfigNameTable) {
  for (const auto& c : kNames) {
    const ConfigName n = config_name(json::parse(c.canonical), json::parse(c.assignment));
    EXPECT_EQ(n.full, c.full) << c.name;
    EXPECT_EQ(n.without_schedule, c.without_schedule) << c.name;
  }
}

// A database with one sweep of one done trial whose stored JSON columns are `canonical` and
// `assignment` (text as stored, possibly damaged).
std::string one_trial_db(const test_support::TempDir& dir, const std::string& canonical,
                         const std::string& assignment) {
  const std::string path = (dir / "r.sqlite").string();
  Database db(path, Database::Mode::read_write_create);
  ensure_schema(db, true);
  db.exec(
      "INSERT INTO sweeps(id, name, spec_yaml, created_at, updated_at) VALUES (1, 's', "
      "'name: s', 't', 't')");
  db.prepare(
        "INSERT INTO trials(hash, label, kind, seed, config_json, canonical_json, out_dir, "
        "status, val_ppl, created_at) VALUES ('h', 'noop seed=0', 'noop', 0, '{}', ?, '/x', "
        "'done', 12.5, 't')")
      .bind(1, canonical)
      .run();
  db.prepare("INSERT INTO sweep_trials VALUES (1, 'h', 0, ?)").bind(1, assignment).run();
  return path;
}

TEST(ResultsTable, DamagedJsonColumnIsAnErrorNamingTheColumn) {
  const struct {
    const char* canonical;
    const char* assignment;
    const char* column;
  } cases[] = {
      {"{not json", "{}", "trials.canonical_json"},
      {R"({"kind":"noop","seed":0})", "[1,", "sweep_trials.assignment_json"},
  };
  for (const auto& c : cases) {
    test_support::TempDir dir("results_table_test");
    Database db(one_trial_db(dir, c.canonical, c.assignment), Database::Mode::read_only);
    try {
      build_results_table(db, ResultsQuery{});
      ADD_FAILURE() << "no error for a damaged " << c.column;
    } catch (const InputError& e) {
      ADD_FAILURE() << "a damaged database is not bad input: " << e.what();
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find(c.column), std::string::npos) << e.what();
      EXPECT_NE(std::string(e.what()).find("not JSON"), std::string::npos) << e.what();
    }
  }
}

TEST(ResultsTable, IntactDatabaseOfTheSameShapeBuilds) {  // the fixture itself is sound
  test_support::TempDir dir("results_table_test");
  Database db(one_trial_db(dir, R"({"kind":"noop","seed":0})", "{}"), Database::Mode::read_only);
  const ResultsTable t = build_results_table(db, ResultsQuery{});
  ASSERT_EQ(t.rows.size(), 1u);
  EXPECT_EQ(t.rows[0].config, "noop");
  EXPECT_DOUBLE_EQ(t.rows[0].ppl_mean, 12.5);
}

TEST(ResultsTable, SchemaVersionThatIsNotANumberIsInputError) {
  test_support::TempDir dir("results_table_test");
  Database db((dir / "r.sqlite").string(), Database::Mode::read_write_create);
  ensure_schema(db, true);
  db.exec("UPDATE meta SET value = 'abc' WHERE key = 'schema_version'");
  try {
    schema_version(db);
    ADD_FAILURE() << "no error";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("schema_version 'abc'"), std::string::npos) << e.what();
  }
}

// A staged sweep's table: trials whose bases follow their seeds (base pre seed=0, seed=1)
// are one configuration over seeds, the row knows its base, the ratio pairs each seed with
// the distributed trial of the same base, and the rendered table has a base column.
TEST(ResultsTable, StagedTrialsGroupOverSeedsAndShowTheirBase) {
  test_support::TempDir dir("results_table_test");
  const std::string path = (dir / "r.sqlite").string();
  {
    Database db(path, Database::Mode::read_write_create);
    ensure_schema(db, true);
    db.exec(
        "INSERT INTO sweeps(id, name, spec_yaml, created_at, updated_at) VALUES (1, 's', "
        "'name: s', 't', 't')");
    auto insert = db.prepare(
        "INSERT INTO trials(hash, label, kind, seed, config_json, canonical_json, out_dir, "
        "status, val_ppl, created_at, base_hash) VALUES (?, ?, 'gpt2', ?, '{}', ?, '/x', "
        "'done', ?, 't', ?)");
    auto link = db.prepare("INSERT INTO sweep_trials VALUES (1, ?, ?, ?)");
    int position = 0;
    const auto add = [&](const std::string& hash, const std::string& label, int seed,
                         const std::string& init, const std::string& mechanism,
                         const std::string& schedule, double ppl, const std::string& base) {
      const json canonical = {{"kind", "gpt2"},
                              {"seed", seed},
                              {"model", {{"init", init}}},
                              {"locality", {{"mechanism", mechanism}, {"schedule", schedule}}}};
      insert.bind(1, hash).bind(2, label).bind(3, seed).bind(4, canonical.dump()).bind(5, ppl);
      if (base.empty())
        insert.bind_null(6);
      else
        insert.bind(6, base);
      insert.run();
      link.bind(1, hash).bind(2, position++).bind(3, json{{"seed", seed}}.dump()).run();
    };
    for (int seed : {0, 1}) {
      const std::string s = std::to_string(seed);
      add("b" + s, "base pre seed=" + s, seed, "scratch", "none", "distributed", 9.0, "");
    }
    for (int seed : {0, 1}) {
      const std::string s = std::to_string(seed);
      add("d" + s, "none distributed seed=" + s, seed, "trial:b" + s, "none", "distributed",
          10.0 + seed, "b" + s);
      add("l" + s, "block localist seed=" + s, seed, "trial:b" + s, "block", "localist",
          2 * (10.0 + seed), "b" + s);
    }
  }
  Database db(path, Database::Mode::read_only);
  const ResultsTable t = build_results_table(db, ResultsQuery{});
  ASSERT_EQ(t.rows.size(), 3u) << "the base row, then one row per configuration over seeds";
  EXPECT_EQ(t.rows[0].base, "");
  EXPECT_EQ(t.rows[1].config, "none distributed");
  EXPECT_EQ(t.rows[1].seeds, 2);
  EXPECT_EQ(t.rows[1].base, "base pre");
  EXPECT_EQ(t.rows[2].config, "block localist");
  EXPECT_EQ(t.rows[2].seeds, 2);
  ASSERT_TRUE(t.rows[2].ratio.has_value());
  EXPECT_DOUBLE_EQ(*t.rows[2].ratio, 2.0) << "each seed against the distributed trial of its base";
  const std::string csv = render_results(t, TableFormat::csv, false);
  EXPECT_EQ(csv.rfind("config,base,mechanism,", 0), 0u) << csv;
  EXPECT_NE(csv.find("block localist,base pre,"), std::string::npos) << csv;
}

}  // namespace
}  // namespace locsweep
