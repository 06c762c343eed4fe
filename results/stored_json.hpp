// Reading a JSON column of the results database (canonical_json, config_json,
// assignment_json, ...) in the one error style: text that does not parse means a damaged or
// hand-edited database, an Error (exit 1) that names the database and the column, never a
// stray nlohmann::json exception.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "results/sqlite.hpp"

namespace locsweep {

// Parses `text`, read from `column` of `db`; StoreError (an Error) when it is not JSON.
nlohmann::json parse_stored_json(const Database& db, const std::string& text, const char* column);

}  // namespace locsweep
