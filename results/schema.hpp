// The results database's schema (version 1), documented table by table in
// docs/results-schema.md. One SQLite file in WAL mode, written by the coordinator alone.
#pragma once

#include <string_view>

#include "results/sqlite.hpp"

namespace locsweep {

inline constexpr int kSchemaVersion = 1;

// The DDL of a fresh database (tables, indexes, views).
std::string_view schema_sql();

// Creates the schema in an empty database, or checks that an existing one is a locsweep
// database of kSchemaVersion. Never modifies a database it rejects: the checks run first,
// read-only. Throws InputError (not SQLite, not locsweep, other version).
void ensure_schema(Database& db, bool may_create);

// Reads the schema version of a locsweep database (read-only); InputError if it is none.
int schema_version(Database& db);

}  // namespace locsweep
