#include "results/schema.hpp"

#include <charconv>

#include <string>

namespace locsweep {

namespace {

// The trials table (version 4: status `stopped`, a trial that ASHA stopped early), kept apart
// from the rest so that the upgrade from version 3 rebuilds it from the same text.
constexpr std::string_view kTrialsTable = R"sql(
CREATE TABLE trials (
  hash           TEXT PRIMARY KEY,
  label          TEXT NOT NULL,
  kind           TEXT NOT NULL,
  mechanism      TEXT,
  schedule       TEXT,
  beta           REAL,
  seed           INTEGER NOT NULL,
  n_layer        INTEGER,
  config_json    TEXT NOT NULL,
  canonical_json TEXT NOT NULL,
  cost           REAL NOT NULL DEFAULT 0,
  out_dir        TEXT NOT NULL,
  status         TEXT NOT NULL DEFAULT 'pending'
                 CHECK (status IN ('pending', 'running', 'done', 'failed', 'stopped')),
  attempts       INTEGER NOT NULL DEFAULT 0,
  retries_used   INTEGER NOT NULL DEFAULT 0,
  last_step      INTEGER NOT NULL DEFAULT 0,
  val_loss       REAL,
  val_ppl        REAL,
  val_tokens     INTEGER,
  train_loss     REAL,
  steps_done     INTEGER,
  seconds        REAL,
  outcome        TEXT,
  message        TEXT,
  created_at     TEXT NOT NULL,
  finished_at    TEXT,
  base_hash      TEXT
);
)sql";
constexpr std::string_view kTrialsIndexes = R"sql(
CREATE INDEX trials_by_status ON trials(status);
CREATE INDEX trials_by_base ON trials(base_hash) WHERE base_hash IS NOT NULL;
)sql";
constexpr std::string_view kResultsView = R"sql(
CREATE VIEW sweep_results AS
  SELECT s.name AS sweep, t.hash, t.label, t.kind, t.mechanism, t.schedule, t.beta, t.seed,
         t.status, t.attempts, t.val_loss, t.val_ppl, t.val_tokens, t.train_loss, t.steps_done,
         t.seconds, t.outcome, t.finished_at, st.position
  FROM sweep_trials st JOIN sweeps s ON s.id = st.sweep_id JOIN trials t ON t.hash = st.trial_hash;
)sql";

}  // namespace

std::string schema_sql() {
  return std::string(R"sql(
CREATE TABLE meta (
  key   TEXT PRIMARY KEY,
  value TEXT NOT NULL
);
CREATE TABLE sweeps (
  id         INTEGER PRIMARY KEY,
  name       TEXT NOT NULL UNIQUE,
  spec_yaml  TEXT NOT NULL,
  spec_file  TEXT,
  created_at TEXT NOT NULL,
  updated_at TEXT NOT NULL
);
CREATE TABLE sweep_trials (
  sweep_id        INTEGER NOT NULL REFERENCES sweeps(id),
  trial_hash      TEXT NOT NULL REFERENCES trials(hash),
  position        INTEGER NOT NULL,
  assignment_json TEXT NOT NULL,
  PRIMARY KEY (sweep_id, trial_hash)
);
CREATE TABLE runs (
  id           INTEGER PRIMARY KEY,
  sweep_id     INTEGER NOT NULL REFERENCES sweeps(id),
  host         TEXT NOT NULL,
  pid          INTEGER NOT NULL,
  ranks        INTEGER NOT NULL,
  slurm_job_id TEXT,
  command      TEXT,
  started_at   TEXT NOT NULL,
  heartbeat_at TEXT NOT NULL,
  ended_at     TEXT,
  status       TEXT NOT NULL
               CHECK (status IN ('running', 'complete', 'interrupted', 'failed', 'crashed')),
  lease_s         REAL,
  heartbeat_count INTEGER NOT NULL DEFAULT 0,
  process         TEXT
);
CREATE TABLE attempts (
  id            INTEGER PRIMARY KEY,
  trial_hash    TEXT NOT NULL REFERENCES trials(hash),
  number        INTEGER NOT NULL,
  run_id        INTEGER REFERENCES runs(id),
  worker_rank   INTEGER,
  host          TEXT,
  pid           INTEGER,
  device        TEXT,
  status        TEXT NOT NULL CHECK (status IN ('running', 'done', 'failed', 'interrupted')),
  outcome       TEXT,
  message       TEXT,
  resumed_from  INTEGER,
  steps_done    INTEGER,
  started_at    TEXT NOT NULL,
  ended_at      TEXT,
  manifest_json TEXT,
  UNIQUE (trial_hash, number)
);
CREATE TABLE step_metrics (
  trial_hash   TEXT NOT NULL,
  split        TEXT NOT NULL CHECK (split IN ('train', 'val')),
  step         INTEGER NOT NULL,
  loss         REAL,
  lr           REAL,
  tokens_per_s REAL,
  penalty      REAL,
  attempt_id   INTEGER,
  PRIMARY KEY (trial_hash, split, step)
) WITHOUT ROWID;
CREATE TABLE head_metrics (
  trial_hash    TEXT NOT NULL,
  layer         INTEGER NOT NULL,
  head          INTEGER NOT NULL,
  lambda        REAL,
  entropy_bits  REAL,
  entropy_norm  REAL,
  in_block_mass REAL,
  mean_distance REAL,
  PRIMARY KEY (trial_hash, layer, head)
) WITHOUT ROWID;
CREATE TABLE artifacts (
  trial_hash TEXT NOT NULL,
  kind       TEXT NOT NULL,
  path       TEXT NOT NULL,
  bytes      INTEGER,
  sha256     TEXT,
  created_at TEXT NOT NULL,
  PRIMARY KEY (trial_hash, kind)
) WITHOUT ROWID;
CREATE TABLE slurm_jobs (
  job_id       TEXT PRIMARY KEY,
  sweep_id     INTEGER NOT NULL REFERENCES sweeps(id),
  script_path  TEXT,
  options_json TEXT,
  submitted_at TEXT NOT NULL
);
CREATE INDEX attempts_by_trial ON attempts(trial_hash);
CREATE INDEX sweep_trials_by_trial ON sweep_trials(trial_hash);
)sql") + std::string(kTrialsTable) +
         std::string(kTrialsIndexes) + std::string(kResultsView);
}

namespace {

bool has_table(Database& db, const char* name) {
  auto stmt = db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?");
  stmt.bind(1, name);
  return stmt.step();
}

// Version 1 -> 2: the run lease's columns (runs of version 1 keep NULL: a 30 s lease).
constexpr const char* kUpgradeFrom1 =
    "ALTER TABLE runs ADD COLUMN lease_s REAL;"
    "ALTER TABLE runs ADD COLUMN heartbeat_count INTEGER NOT NULL DEFAULT 0;"
    "ALTER TABLE runs ADD COLUMN process TEXT;"
    "UPDATE meta SET value = '2' WHERE key = 'schema_version';";
// Version 2 -> 3: a trial's base (staged sweeps; trials of version 2 have none), and trial
// identity by content, which changes no table: the trials recorded so far are told apart by
// their config_json lacking `inputs` (results/store.hpp, sync_sweep).
constexpr const char* kUpgradeFrom2 =
    "ALTER TABLE trials ADD COLUMN base_hash TEXT;"
    "CREATE INDEX trials_by_base ON trials(base_hash) WHERE base_hash IS NOT NULL;";

// Version 3 -> 4: trial status `stopped` (ASHA stopped it early; not a failure). A CHECK
// constraint cannot be altered, so the trials table is rebuilt from kTrialsTable with its rows
// (column by column), and its indexes and the view that reads it are made again. Runs with
// foreign keys off (the caller's connection has them off until open_for_writing turns them
// on): dropping the old table must not touch the rows that refer to it.
void upgrade_from_3(Database& db) {
  std::string columns;
  {
    auto stmt = db.prepare("SELECT name FROM pragma_table_info('trials') ORDER BY cid");
    while (stmt.step()) columns += (columns.empty() ? "" : ", ") + stmt.text(0);
  }
  std::string rebuilt(kTrialsTable);
  const std::string_view create = "CREATE TABLE trials (";
  rebuilt.replace(rebuilt.find(create), create.size(), "CREATE TABLE trials_v4 (");
  db.exec("DROP VIEW IF EXISTS sweep_results;");
  db.exec(rebuilt);
  db.exec("INSERT INTO trials_v4 (" + columns + ") SELECT " + columns + " FROM trials;");
  db.exec("DROP TABLE trials; ALTER TABLE trials_v4 RENAME TO trials;");
  db.exec(std::string(kTrialsIndexes) + std::string(kResultsView));
  db.exec("UPDATE meta SET value = '4' WHERE key = 'schema_version'");
}

int count_tables(Database& db) {
  auto stmt = db.prepare("SELECT count(*) FROM sqlite_master");
  stmt.step();
  return static_cast<int>(stmt.integer(0));
}

}  // namespace

bool has_column(Database& db, const char* table, const char* column) {
  auto stmt = db.prepare("SELECT 1 FROM pragma_table_info(?) WHERE name = ?");
  stmt.bind(1, table).bind(2, column);
  return stmt.step();
}

int schema_version(Database& db) {
  try {
    if (!has_table(db, "meta"))
      throw InputError("'" + db.path() +
                       "' is an SQLite database but not a locsweep results database "
                       "(it has no meta table); point --db at a locsweep database or a new file");
    auto stmt = db.prepare("SELECT value FROM meta WHERE key = 'schema_version'");
    if (!stmt.step())
      throw InputError("'" + db.path() +
                       "' is not a locsweep results database (no schema_version)");
    const std::string text = stmt.text(0);
    int version = 0;
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), version);
    if (ec != std::errc() || end != text.data() + text.size())
      throw InputError("'" + db.path() +
                       "' is not a locsweep results database (its schema_version '" + text +
                       "' is not a number)");
    return version;
  } catch (const StoreError& e) {
    throw InputError("'" + db.path() + "' is not a locsweep results database: " + e.what());
  }
}

void ensure_schema(Database& db, bool may_create) {
  int tables = 0;
  try {
    tables = count_tables(db);  // the first read: fails on a file that is not SQLite
  } catch (const StoreError& e) {
    throw InputError("'" + db.path() +
                     "' is not a locsweep results database (not an SQLite file?): " + e.what());
  }
  if (tables == 0) {
    if (!may_create)
      throw InputError("'" + db.path() + "' is empty: no locsweep results database there yet");
    Transaction tx(db);
    db.exec(schema_sql());
    auto put = db.prepare("INSERT INTO meta(key, value) VALUES (?, ?)");
    put.bind(1, "schema_version").bind(2, std::to_string(kSchemaVersion)).run();
    put.bind(1, "application").bind(2, "locsweep").run();
    put.bind(1, "created_at").bind(2, utc_now()).run();
    tx.commit();
    return;
  }
  const int version = schema_version(db);
  if (version < kOldestReadableSchema || version > kSchemaVersion)
    throw InputError(
        "'" + db.path() + "' has results schema version " + std::to_string(version) +
        "; this locsweep reads versions " + std::to_string(kOldestReadableSchema) + " to " +
        std::to_string(kSchemaVersion) +
        ". Use a locsweep release that matches it, or start a new --db file (nothing was changed)");
  if (version < kSchemaVersion && may_create) {
    db.exec("PRAGMA foreign_keys = OFF");  // outside the transaction, where it takes effect
    Transaction tx(db);
    // Read again inside the transaction: another run may have just upgraded it.
    if (schema_version(db) == 1) db.exec(kUpgradeFrom1);
    if (schema_version(db) == 2) {
      if (!has_column(db, "trials", "base_hash")) db.exec(kUpgradeFrom2);
      db.exec("UPDATE meta SET value = '3' WHERE key = 'schema_version'");
    }
    if (schema_version(db) == 3) upgrade_from_3(db);
    tx.commit();
  }
}

}  // namespace locsweep
