// The table of every trial-config key: its dotted path, whether it defines the result
// (hashed), a one-line doc, and how it reads from YAML and writes to JSON. Parsing, JSON
// round trips, canonical hashing, grid keys and "did you mean" all come from this one table.
#pragma once

#include <yaml-cpp/yaml.h>

#include <functional>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/error.hpp"
#include "sweeps/trial_config.hpp"

namespace locsweep {

// Thrown by Field::set for a value of the wrong type or out of range (an InputError without
// a place); apply_field, which knows the file and the node's position, turns it into a
// SpecError. `lists_valid` says the message already ends with what is valid "(valid: ...)";
// otherwise the key's one-line doc is appended.
class FieldError : public InputError {
 public:
  enum class Hint { add_doc, lists_valid };
  explicit FieldError(const std::string& message, Hint hint = Hint::add_doc)
      : InputError(message), lists_valid_(hint == Hint::lists_valid) {}
  bool lists_valid() const { return lists_valid_; }

 private:
  bool lists_valid_;
};

// The values a numeric key accepts, stated once: Field::set refuses the others and the key's
// doc (hence `locsweep keys` and docs/sweep-spec.md) prints text().
struct NumericRange {
  double lo, hi;
  bool lo_open = false;  // lo itself is not allowed
  bool hi_open = false;  // hi itself is not allowed
  bool integer = false;  // whole numbers only
  bool contains(double value) const;
  std::string text() const;  // "[0, 1)", "(0, 10]"; integers: "0 to 96"
};

struct Field {
  std::string path;  // "train.lr"
  std::string doc;   // "peak learning rate; in (0, 10]" (numeric keys end with their range)
  bool hashed;       // part of the trial's identity
  bool accepts_map;  // the value may be a mapping (locality.schedule)
  std::function<nlohmann::json(const TrialConfig&)> get;
  std::function<void(TrialConfig&, const YAML::Node&)> set;
  std::optional<NumericRange> range;  // set for every int and double key
};

const std::vector<Field>& trial_fields();
const Field* find_field(std::string_view path);
// True when `path` names a section holding fields ("model", "locality").
bool is_section(std::string_view path);
// Up to three known paths closest to `path`, for "did you mean".
std::vector<std::string> similar_paths(std::string_view path);

// Reads the trial keys of a YAML mapping (sections and top-level fields) into `config`.
// Keys in `skip` (e.g. a sweep's "grid") are left for the caller. Throws SpecError.
void read_trial_keys(const YAML::Node& root, const std::string& file, TrialConfig& config,
                     const std::vector<std::string>& skip = {});

// Applies one `path: value` (a grid override) to `config`. Throws SpecError at the value.
void apply_field(TrialConfig& config, const std::string& path, const YAML::Node& value,
                 const std::string& file, const YAML::Mark& key_mark);

// Throws SpecError at the first duplicated key of a mapping.
void reject_duplicate_keys(const YAML::Node& map, const std::string& file);

}  // namespace locsweep
