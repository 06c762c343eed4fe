#include "results/sqlite.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <ctime>
#include <fstream>
#include <sstream>
#include <thread>

#include <fmt/format.h>

namespace locsweep {

namespace {

double seconds_since(BusyWait::Clock::time_point t) {
  return std::chrono::duration<double>(BusyWait::Clock::now() - t).count();
}

// SQLite's busy callback: wait (1, 2, 4 ... 100 ms between tries) for as long as it takes,
// reporting every report_every_s. `count` is 0 at the first call of a new wait.
int wait_while_busy(void* arg, int count) {
  auto& w = *static_cast<BusyWait*>(arg);
  if (count == 0 || !w.waiting) {
    w.waiting = true;
    w.started = w.last_report = BusyWait::Clock::now();
  }
  if (seconds_since(w.last_report) >= w.report_every_s) {
    w.last_report = BusyWait::Clock::now();
    w.reported = true;
    const std::string holder = write_lock_holder(w.path);
    w.report(fmt::format(
        "waiting for the results database '{}': another process{} holds its write lock; waited "
        "{:.0f} s so far and waiting on (nothing is lost; ending that process's transaction "
        "lets this continue)",
        w.path, holder.empty() ? "" : " (" + holder + ")", seconds_since(w.started)));
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(std::min(100, 1 << std::min(count, 7))));
  return 1;
}

void print_to_stderr(const std::string& line) {
  fmt::print(stderr, "locsweep: {}\n", line);
  std::fflush(stderr);
}

// "pid 4242, sqlite3" or "pid 4242, sqlite3, stopped".
std::string describe_process(long pid) {
  std::ifstream comm_file("/proc/" + std::to_string(pid) + "/comm");
  std::string comm;
  std::getline(comm_file, comm);
  std::ifstream stat_file("/proc/" + std::to_string(pid) + "/stat");
  std::string stat((std::istreambuf_iterator<char>(stat_file)), std::istreambuf_iterator<char>());
  const size_t paren = stat.rfind(')');
  const bool stopped = paren != std::string::npos && paren + 2 < stat.size() &&
                       (stat[paren + 2] == 'T' || stat[paren + 2] == 't');
  return "pid " + std::to_string(pid) + (comm.empty() ? "" : ", " + comm) +
         (stopped ? ", stopped" : "");
}

}  // namespace

void BusyWait::finished() {
  if (reported)
    report(fmt::format("the results database '{}' is free again after {:.0f} s; continuing", path,
                       seconds_since(started)));
  waiting = reported = false;
}

std::string write_lock_holder(const std::string& path) {
  // SQLite's WAL write lock is a POSIX write lock on byte 120 of FILE-shm; in rollback-journal
  // mode it locks FILE itself. /proc/locks lists them with the owner's pid.
  struct stat shm {
  }, main{};
  const bool have_shm = ::stat((path + "-shm").c_str(), &shm) == 0;
  const bool have_main = ::stat(path.c_str(), &main) == 0;
  std::ifstream locks("/proc/locks");
  std::string line;
  while (std::getline(locks, line)) {
    if (line.find("->") != std::string::npos) continue;  // a waiter, not a holder
    std::istringstream fields(line);
    std::string id, kind, advisory, access, device, start, end;
    long pid = 0;
    if (!(fields >> id >> kind >> advisory >> access >> pid >> device >> start >> end)) continue;
    if (kind != "POSIX" || access != "WRITE" || pid <= 0 || pid == ::getpid()) continue;
    const std::string inode = device.substr(device.rfind(':') + 1);
    const bool on_shm = have_shm && inode == std::to_string(shm.st_ino);
    const bool on_main = have_main && inode == std::to_string(main.st_ino);
    if (!on_shm && !on_main) continue;
    if (on_shm) {
      const long first = std::strtol(start.c_str(), nullptr, 10);
      const long last = end == "EOF" ? first + 1000000 : std::strtol(end.c_str(), nullptr, 10);
      if (first > 120 || last < 120) continue;
    }
    return describe_process(pid);
  }
  return "";
}

Database::Database(const std::string& path, Mode mode)
    : path_(path), busy_(std::make_unique<BusyWait>()) {
  int flags = SQLITE_OPEN_NOMUTEX;
  switch (mode) {
    case Mode::read_write_create:
      flags |= SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE;
      break;
    case Mode::read_write:
      flags |= SQLITE_OPEN_READWRITE;
      break;
    case Mode::read_only:
      flags |= SQLITE_OPEN_READONLY;
      break;
  }
  const int rc = sqlite3_open_v2(path.c_str(), &db_, flags, nullptr);
  if (rc != SQLITE_OK) {
    const std::string message = db_ ? sqlite3_errmsg(db_) : sqlite3_errstr(rc);
    sqlite3_close(db_);
    db_ = nullptr;
    throw StoreError("cannot open database '" + path + "': " + message);
  }
  sqlite3_extended_result_codes(db_, 1);
  // Read pages through a memory map rather than a read() each: `plan --db` and re-registering
  // a 100,000-trial sweep read whole tables. (Only reads use it; writes still go to the WAL.)
  sqlite3_exec(db_, "PRAGMA mmap_size = 1073741824", nullptr, nullptr, nullptr);
  // Writers and readers wait for a busy database, however long, saying so on stderr.
  busy_->path = path;
  busy_->report = print_to_stderr;
  sqlite3_busy_handler(db_, wait_while_busy, busy_.get());
}

Database::~Database() {
  if (db_) sqlite3_close_v2(db_);
}

void Database::fail(const std::string& what) const {
  throw StoreError(what + " ('" + path_ + "'): " + sqlite3_errmsg(db_));
}

void Database::exec(std::string_view sql) {
  char* error = nullptr;
  const int rc = sqlite3_exec(db_, std::string(sql).c_str(), nullptr, nullptr, &error);
  if (busy_->waiting) busy_->finished();
  if (rc != SQLITE_OK) {
    const std::string message = error ? error : "unknown error";
    sqlite3_free(error);
    throw StoreError("SQL failed on '" + path_ + "': " + message);
  }
}

Statement Database::prepare(std::string_view sql) {
  sqlite3_stmt* stmt = nullptr;
  const char* tail = nullptr;
  if (sqlite3_prepare_v2(db_, sql.data(), static_cast<int>(sql.size()), &stmt, &tail) != SQLITE_OK)
    fail("cannot prepare SQL");
  return Statement(stmt, this);
}

Statement& Statement::bind(int index, int64_t value) {
  if (sqlite3_bind_int64(stmt_, index, value) != SQLITE_OK) db_->fail("bind failed");
  return *this;
}

Statement& Statement::bind(int index, double value) {
  if (sqlite3_bind_double(stmt_, index, value) != SQLITE_OK) db_->fail("bind failed");
  return *this;
}

Statement& Statement::bind(int index, std::string_view value) {
  if (sqlite3_bind_text(stmt_, index, value.data(), static_cast<int>(value.size()),
                        SQLITE_TRANSIENT) != SQLITE_OK)
    db_->fail("bind failed");
  return *this;
}

Statement& Statement::bind_null(int index) {
  if (sqlite3_bind_null(stmt_, index) != SQLITE_OK) db_->fail("bind failed");
  return *this;
}

bool Statement::step() {
  const int rc = sqlite3_step(stmt_);
  if (db_->busy().waiting) db_->busy().finished();
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  db_->fail("SQL step failed");
}

void Statement::run() {
  try {
    while (step()) {
    }
  } catch (...) {
    reset();  // a cached statement must stay usable after a failed run (constraint, busy)
    throw;
  }
  reset();
}

void Statement::reset() {
  sqlite3_reset(stmt_);
  sqlite3_clear_bindings(stmt_);
}

std::string Statement::text(int i) const {
  const auto* p = reinterpret_cast<const char*>(sqlite3_column_text(stmt_, i));
  return p ? std::string(p, static_cast<size_t>(sqlite3_column_bytes(stmt_, i))) : std::string();
}

Transaction::Transaction(Database& db)
    : db_(db), nested_(sqlite3_get_autocommit(db.handle()) == 0) {
  db_.exec(nested_ ? "SAVEPOINT locsweep_nested" : "BEGIN IMMEDIATE");
}

Transaction::~Transaction() {
  if (!open_) return;
  sqlite3_exec(db_.handle(),
               nested_ ? "ROLLBACK TO locsweep_nested; RELEASE locsweep_nested" : "ROLLBACK",
               nullptr, nullptr, nullptr);
}

void Transaction::commit() {
  db_.exec(nested_ ? "RELEASE locsweep_nested" : "COMMIT");
  open_ = false;
}

std::string utc_now() {
  const auto now = std::chrono::system_clock::now();
  const std::time_t t = std::chrono::system_clock::to_time_t(now);
  const auto ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count() % 1000;
  std::tm tm{};
  gmtime_r(&t, &tm);
  return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z", tm.tm_year + 1900, tm.tm_mon + 1,
                     tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, ms);
}

}  // namespace locsweep
