#include "results/stored_json.hpp"

namespace locsweep {

nlohmann::json parse_stored_json(const Database& db, const std::string& text, const char* column) {
  try {
    return nlohmann::json::parse(text);
  } catch (const nlohmann::json::parse_error& e) {
    throw StoreError("'" + db.path() + "': the " + column +
                     " column holds text that is not JSON (" + e.what() +
                     "); the database is damaged or was edited by hand");
  }
}

}  // namespace locsweep
