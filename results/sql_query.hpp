// `locsweep results --sql "SELECT ..."`: a user's query, strictly read-only. The database is
// opened read-only with query_only on, exactly one statement is accepted, and an authorizer
// refuses anything but reading (ATTACH, PRAGMA writes, load_extension, ...). Refusals are
// InputErrors that say why; the database is never modified.
#pragma once

#include <string>

#include "results/table.hpp"

namespace locsweep {

std::string run_read_only_sql(const std::string& db_path, const std::string& sql,
                              TableFormat format);

}  // namespace locsweep
