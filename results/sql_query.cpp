#include "results/sql_query.hpp"

#include <fmt/format.h>

#include <cstring>
#include <nlohmann/json.hpp>

#include "results/queries.hpp"
#include "results/text_table.hpp"

namespace locsweep {
namespace {

extern "C" int authorize(void*, int action, const char* a, const char*, const char*, const char*) {
  switch (action) {
    case SQLITE_SELECT:
    case SQLITE_READ:
    case SQLITE_RECURSIVE:
      return SQLITE_OK;
    case SQLITE_FUNCTION:
      // load_extension could run arbitrary code; everything else is a pure function.
      return (a && std::strcmp(a, "load_extension") == 0) ? SQLITE_DENY : SQLITE_OK;
    default:
      return SQLITE_DENY;  // ATTACH, DETACH, PRAGMA, INSERT, UPDATE, DELETE, CREATE, ...
  }
}

std::string cell(Statement& s, int i) {
  switch (s.column_type(i)) {
    case SQLITE_NULL:
      return "";
    case SQLITE_INTEGER:
      return std::to_string(s.integer(i));
    case SQLITE_FLOAT:
      return fmt::format("{:g}", s.real(i));
    default:
      return s.text(i);
  }
}

}  // namespace

std::string run_read_only_sql(const std::string& db_path, const std::string& sql,
                              TableFormat format) {
  Database db = open_results_read_only(db_path);
  db.exec("PRAGMA query_only = 1");
  sqlite3_set_authorizer(db.handle(), authorize, nullptr);
  const char* tail = nullptr;
  sqlite3_stmt* raw = nullptr;
  if (sqlite3_prepare_v2(db.handle(), sql.c_str(), static_cast<int>(sql.size()), &raw, &tail) !=
      SQLITE_OK) {
    const std::string why = sqlite3_errmsg(db.handle());
    sqlite3_finalize(raw);
    throw InputError("--sql refused: " + why +
                     (why.find("authoriz") != std::string::npos
                          ? " (only reading queries are allowed: SELECT/WITH)"
                          : ""));
  }
  Statement stmt(raw, &db);
  if (!raw) throw InputError("--sql: the query is empty");
  for (const char* p = tail; p && *p; ++p)
    if (!std::isspace(static_cast<unsigned char>(*p)) && *p != ';')
      throw InputError("--sql refused: give exactly one statement (found more after the first)");
  if (!stmt.read_only())
    throw InputError("--sql refused: the statement would write; only reading queries are allowed");

  std::vector<std::string> header;
  for (int i = 0; i < stmt.columns(); ++i) header.push_back(stmt.column_name(i));
  std::vector<std::vector<std::string>> rows;
  nlohmann::json json_rows = nlohmann::json::array();
  while (stmt.step()) {
    std::vector<std::string> row;
    nlohmann::json obj = nlohmann::json::object();
    for (int i = 0; i < stmt.columns(); ++i) {
      row.push_back(cell(stmt, i));
      switch (stmt.column_type(i)) {
        case SQLITE_NULL:
          obj[header[i]] = nullptr;
          break;
        case SQLITE_INTEGER:
          obj[header[i]] = stmt.integer(i);
          break;
        case SQLITE_FLOAT:
          obj[header[i]] = stmt.real(i);
          break;
        default:
          obj[header[i]] = stmt.text(i);
      }
    }
    rows.push_back(std::move(row));
    json_rows.push_back(std::move(obj));
  }
  if (format == TableFormat::json) return json_rows.dump(2) + "\n";
  if (format == TableFormat::csv) return render_text_table(header, rows, TextTableFormat::csv);
  return render_text_table(header, rows,
                           format == TableFormat::markdown ? TextTableFormat::markdown
                                                           : TextTableFormat::aligned) +
         fmt::format("({} row{})\n", rows.size(), rows.size() == 1 ? "" : "s");
}

}  // namespace locsweep
