// The results database's schema (version 3), documented table by table in
// docs/results-schema.md. One SQLite file in WAL mode, written by the coordinator alone.
// Version 2 added the run lease's columns to `runs` (lease_s, heartbeat_count, process).
// Version 3 added a trial's base (trials.base_hash, staged sweeps) and identifies trials by
// content: trials.config_json holds the planner's `inputs` (content digests,
// sweeps/content_identity.hpp) and hashes cover them. Trials recorded before (config_json
// without `inputs`, "identified by path") keep their rows and results but never match a trial
// planned now (sync_sweep says so).
// An older database is read as it is and upgraded in place when a run opens it for writing.
#pragma once

#include <string>
#include <string_view>

#include "results/sqlite.hpp"

namespace locsweep {

inline constexpr int kSchemaVersion = 4;
inline constexpr int kOldestReadableSchema = 1;  // readers accept 1..kSchemaVersion

// The DDL of a fresh database (tables, indexes, views).
std::string schema_sql();

// Creates the schema in an empty database, or checks that an existing one is a locsweep
// database this locsweep reads (may_create: and upgrades versions 1 to 3 to kSchemaVersion, in one
// transaction). Never modifies a database it rejects: the checks run first, read-only.
// Throws InputError (not SQLite, not locsweep, other version).
void ensure_schema(Database& db, bool may_create);

// Whether `table` has `column` (a reader of an older database selects NULL for a newer one:
// trials.base_hash before version 3).
bool has_column(Database& db, const char* table, const char* column);

// Reads the schema version of a locsweep database (read-only); InputError if it is none.
int schema_version(Database& db);

}  // namespace locsweep
