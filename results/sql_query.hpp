// `locsweep results --sql "SELECT ..."`: a user's query, strictly read-only. The database is
// opened read-only with query_only on, exactly one statement is accepted, and an authorizer
// refuses anything but reading (ATTACH, PRAGMA writes, load_extension, ...). Refusals are
// InputErrors that say why; the database is never modified. A time limit (checked from
// sqlite3_progress_handler) and a row limit stop runaway queries such as a recursive CTE.
#pragma once

#include <cstddef>
#include <string>

#include "results/table.hpp"

namespace locsweep {

// Bounds on one query: it is stopped (InputError, exit 2) when it runs longer than
// timeout_s or returns more than max_rows rows; nothing is printed then.
struct SqlLimits {
  double timeout_s = 30;
  std::size_t max_rows = 100000;
};

std::string run_read_only_sql(const std::string& db_path, const std::string& sql,
                              TableFormat format, const SqlLimits& limits = {});

}  // namespace locsweep
