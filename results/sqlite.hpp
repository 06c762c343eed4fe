// Owned SQLite handles: a Database closes its connection, a Statement finalizes itself,
// a Transaction rolls back unless committed. Errors throw StoreError with SQLite's message.
//
// A busy database is waited on, never an error: every connection (writers and readers) has
// a busy handler that keeps retrying for as long as another process holds the lock (a user's
// `sqlite3` shell in a transaction, a backup), and says so on stderr every few seconds,
// naming the database and, where /proc/locks tells, the process that holds its write lock.
#pragma once

#include <sqlite3.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "common/error.hpp"

namespace locsweep {

class StoreError : public Error {
 public:
  using Error::Error;
};

class Statement;

// The state of one connection's wait for a lock (a stable address for SQLite's callback).
struct BusyWait {
  using Clock = std::chrono::steady_clock;
  std::string path;
  double report_every_s = 5;
  // Where progress lines go (default: stderr, "locsweep: ..."); tests may collect them.
  std::function<void(const std::string&)> report;
  Clock::time_point started{}, last_report{};
  bool waiting = false, reported = false;
  void finished();  // the statement that waited went through: say so if we said we wait
};

class Database {
 public:
  enum class Mode { read_write_create, read_write, read_only };
  Database(const std::string& path, Mode mode);
  Database(Database&& other) noexcept
      : db_(other.db_), path_(std::move(other.path_)), busy_(std::move(other.busy_)) {
    other.db_ = nullptr;
  }
  Database& operator=(Database&&) = delete;
  Database(const Database&) = delete;
  ~Database();

  void exec(std::string_view sql);  // one or more statements, no results
  Statement prepare(std::string_view sql);
  int64_t last_insert_rowid() const { return sqlite3_last_insert_rowid(db_); }
  int changes() const { return sqlite3_changes(db_); }
  const std::string& path() const { return path_; }
  sqlite3* handle() const { return db_; }
  [[noreturn]] void fail(const std::string& what) const;
  BusyWait& busy() const { return *busy_; }

 private:
  sqlite3* db_ = nullptr;
  std::string path_;
  std::unique_ptr<BusyWait> busy_;
};

class Statement {
 public:
  Statement(sqlite3_stmt* stmt, const Database* db) : stmt_(stmt), db_(db) {}
  Statement(Statement&& other) noexcept : stmt_(other.stmt_), db_(other.db_) {
    other.stmt_ = nullptr;
  }
  Statement(const Statement&) = delete;
  ~Statement() { sqlite3_finalize(stmt_); }

  // Binds by 1-based index; returns *this to chain.
  Statement& bind(int index, int64_t value);
  Statement& bind(int index, int value) { return bind(index, static_cast<int64_t>(value)); }
  Statement& bind(int index, double value);
  Statement& bind(int index, std::string_view value);
  Statement& bind(int index, const char* value) { return bind(index, std::string_view(value)); }
  Statement& bind(int index, const std::string& value) {
    return bind(index, std::string_view(value));
  }
  Statement& bind_null(int index);
  template <class T>
  Statement& bind(int index, const std::optional<T>& value) {
    return value ? bind(index, *value) : bind_null(index);
  }

  bool step();  // true while a row is available; false when done
  void run();   // step to completion, then reset for reuse
  void reset();

  int columns() const { return sqlite3_column_count(stmt_); }
  std::string column_name(int i) const { return sqlite3_column_name(stmt_, i); }
  bool is_null(int i) const { return sqlite3_column_type(stmt_, i) == SQLITE_NULL; }
  int column_type(int i) const { return sqlite3_column_type(stmt_, i); }
  int64_t integer(int i) const { return sqlite3_column_int64(stmt_, i); }
  double real(int i) const { return sqlite3_column_double(stmt_, i); }
  std::string text(int i) const;
  bool read_only() const { return sqlite3_stmt_readonly(stmt_) != 0; }

 private:
  sqlite3_stmt* stmt_;
  const Database* db_;
};

// BEGIN IMMEDIATE on construction (takes the write lock at once, so a busy database is
// waited on here, not halfway); ROLLBACK in the destructor unless commit() was called.
// Inside an open transaction it is a SAVEPOINT instead: commit() releases it into the outer
// transaction, the destructor rolls back to it (so functions that write in a transaction of
// their own compose into a larger one).
class Transaction {
 public:
  explicit Transaction(Database& db);
  Transaction(const Transaction&) = delete;
  ~Transaction();
  void commit();

 private:
  Database& db_;
  bool nested_ = false;
  bool open_ = true;
};

// Who holds the write lock of the WAL database at `path` ("pid 4242, sqlite3", "pid 17,
// locsweep, stopped"), from /proc/locks; empty when that cannot be told.
std::string write_lock_holder(const std::string& path);

// UTC time as "2026-11-25T20:31:07.123Z", the format every timestamp column uses.
std::string utc_now();

}  // namespace locsweep
