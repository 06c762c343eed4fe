#include "results/sql_query.hpp"

#include <fmt/format.h>

#include <chrono>
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

// Interrupts the query once its deadline has passed (sqlite3 calls this every N VM steps).
struct Deadline {
  std::chrono::steady_clock::time_point at;
  bool passed = false;
};

extern "C" int check_deadline(void* arg) {
  auto* deadline = static_cast<Deadline*>(arg);
  if (std::chrono::steady_clock::now() >= deadline->at) deadline->passed = true;
  return deadline->passed ? 1 : 0;  // non-zero: SQLITE_INTERRUPT
}

std::string timeout_message(double timeout_s) {
  return fmt::format(
      "--sql stopped: the query ran longer than --sql-timeout {:g} s; make it cheaper (a "
      "LIMIT, a bounded recursive CTE) or raise --sql-timeout",
      timeout_s);
}

// The one statement of `sql`, prepared under the authorizer; InputError unless it is exactly
// one statement that only reads.
Statement prepare_one_reading_statement(Database& db, const std::string& sql) {
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
  return stmt;
}

// A column of the current row as JSON: null, integer, real or text, as SQLite typed it.
nlohmann::json json_cell(const Statement& stmt, int i) {
  switch (stmt.column_type(i)) {
    case SQLITE_NULL:
      return nullptr;
    case SQLITE_INTEGER:
      return stmt.integer(i);
    case SQLITE_FLOAT:
      return stmt.real(i);
    default:
      return stmt.text(i);
  }
}

// What a query returned, as text cells and as JSON objects.
struct QueryRows {
  std::vector<std::string> header;
  std::vector<std::vector<std::string>> rows;
  nlohmann::json json_rows = nlohmann::json::array();
};

// Steps through the statement within the limits: InputError past --max-rows, or when the
// deadline stopped it.
QueryRows read_rows(Statement& stmt, const Deadline& deadline, const SqlLimits& limits) {
  QueryRows out;
  for (int i = 0; i < stmt.columns(); ++i) out.header.push_back(stmt.column_name(i));
  while (true) {
    bool more = false;
    try {
      more = stmt.step();
    } catch (const Error&) {
      if (deadline.passed) throw InputError(timeout_message(limits.timeout_s));
      throw;
    }
    if (!more) break;
    if (out.rows.size() == limits.max_rows)
      throw InputError(fmt::format(
          "--sql stopped: the query returns more than --max-rows {} rows; add a LIMIT or a "
          "WHERE, or raise --max-rows",
          limits.max_rows));
    std::vector<std::string> row;
    nlohmann::json obj = nlohmann::json::object();
    for (int i = 0; i < stmt.columns(); ++i) {
      row.push_back(cell(stmt, i));
      obj[out.header[i]] = json_cell(stmt, i);
    }
    out.rows.push_back(std::move(row));
    out.json_rows.push_back(std::move(obj));
  }
  return out;
}

std::string render_rows(const QueryRows& r, TableFormat format) {
  if (format == TableFormat::json) return r.json_rows.dump(2) + "\n";
  if (format == TableFormat::csv) return render_text_table(r.header, r.rows, TextTableFormat::csv);
  return render_text_table(r.header, r.rows,
                           format == TableFormat::markdown ? TextTableFormat::markdown
                                                           : TextTableFormat::aligned) +
         fmt::format("({} row{})\n", r.rows.size(), r.rows.size() == 1 ? "" : "s");
}

}  // namespace

std::string run_read_only_sql(const std::string& db_path, const std::string& sql,
                              TableFormat format, const SqlLimits& limits) {
  Database db = open_results_read_only(db_path);
  db.exec("PRAGMA query_only = 1");
  sqlite3_set_authorizer(db.handle(), authorize, nullptr);
  Deadline deadline{std::chrono::steady_clock::now() +
                    std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                        std::chrono::duration<double>(limits.timeout_s))};
  sqlite3_progress_handler(db.handle(), 1000, check_deadline, &deadline);
  Statement stmt = prepare_one_reading_statement(db, sql);
  return render_rows(read_rows(stmt, deadline, limits), format);
}

}  // namespace locsweep
