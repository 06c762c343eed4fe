// The first column of every row a query returns, as text (NULL as ""), read from an SQLite
// file with the plain C API: tests check the store's contents through it.
#pragma once

#include <sqlite3.h>

#include <string>
#include <vector>

namespace locsweep::test_support {

inline std::vector<std::string> sql_rows(const std::string& db, const char* sql) {
  sqlite3* h = nullptr;
  sqlite3_open(db.c_str(), &h);
  sqlite3_stmt* s = nullptr;
  sqlite3_prepare_v2(h, sql, -1, &s, nullptr);
  std::vector<std::string> rows;
  while (sqlite3_step(s) == SQLITE_ROW) {
    const unsigned char* text = sqlite3_column_text(s, 0);
    rows.emplace_back(text ? reinterpret_cast<const char*>(text) : "");
  }
  sqlite3_finalize(s);
  sqlite3_close(h);
  return rows;
}

}  // namespace locsweep::test_support
