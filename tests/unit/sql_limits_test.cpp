// `results --sql` limits: a query that runs past its time limit or returns more rows than
// allowed is an InputError (exit 2) that names the limit; within the limits the rows come back.
#include <gtest/gtest.h>

#include <chrono>

#include "common/error.hpp"
#include "results/schema.hpp"
#include "results/sql_query.hpp"
#include "support/temp_dir.hpp"

namespace locsweep {
namespace {

using test_support::TempDir;

std::string empty_db(const TempDir& dir) {
  const std::string path = (dir / "r.sqlite").string();
  Database db(path, Database::Mode::read_write_create);
  ensure_schema(db, true);
  return path;
}

const char* const kEndlessCount =
    "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT count(*) FROM c";
const char* const kEndlessRows =
    "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT x FROM c";

struct LimitCase {
  const char* name;
  const char* sql;
  SqlLimits limits;
  const char* says;  // empty: the query succeeds
};

class SqlLimitsTable : public testing::TestWithParam<LimitCase> {};

TEST_P(SqlLimitsTable, StopWithAMessageOrReturnTheRows) {
  const LimitCase& c = GetParam();
  TempDir dir;
  const std::string db = empty_db(dir);
  const auto started = std::chrono::steady_clock::now();
  try {
    const std::string out = run_read_only_sql(db, c.sql, TableFormat::csv, c.limits);
    EXPECT_EQ(std::string(c.says), "") << c.name << ": succeeded with " << out.substr(0, 200);
  } catch (const InputError& e) {
    EXPECT_NE(std::string(c.says), "") << c.name << ": " << e.what();
    EXPECT_NE(std::string(e.what()).find(c.says), std::string::npos) << e.what();
  }
  EXPECT_LT(std::chrono::steady_clock::now() - started, std::chrono::seconds(20)) << c.name;
}

INSTANTIATE_TEST_SUITE_P(
    Table, SqlLimitsTable,
    testing::Values(
        LimitCase{"endless_count", kEndlessCount, {0.5, 100000}, "longer than --sql-timeout 0.5 s"},
        LimitCase{"endless_rows", kEndlessRows, {30, 10}, "more than --max-rows 10 rows"},
        LimitCase{"rows_at_the_limit",
                  "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 10) "
                  "SELECT x FROM c",
                  {30, 10},
                  ""},
        LimitCase{"one_past_the_limit",
                  "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 11) "
                  "SELECT x FROM c",
                  {30, 10},
                  "more than --max-rows 10 rows"},
        LimitCase{"write_still_refused", "DELETE FROM trials", {30, 10}, "only reading"}));

}  // namespace
}  // namespace locsweep
