// The numeric trial keys a search varies and a noop trial's synthetic loss reads, by dotted
// path: every continuous key of the field table (sweeps/config_fields.hpp: train.lr,
// locality.kappa, locality.sigma, ...) and the parameters of a polynomial schedule, which are
// parts of the one key locality.schedule:
//   locality.schedule.beta | locality.schedule.lambda_min | locality.schedule.lambda_max
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "sweeps/trial_config.hpp"

namespace locsweep {

// locality.schedule.beta, .lambda_min or .lambda_max.
bool is_schedule_parameter(std::string_view key);

// Why `key` is not a continuous numeric trial key (unknown, a section, whole numbers only,
// not a number), ending with what would be; nothing when it is one.
std::optional<std::string> numeric_key_problem(std::string_view key);

// The value of numeric key `key` in `config`. A schedule parameter of a schedule that is not
// polynomial: beta is 0, lambda_min and lambda_max a uniform schedule's lambda (else 0).
// `key` must pass numeric_key_problem().
double numeric_key_value(const TrialConfig& config, std::string_view key);

// `config` with numeric key `key` set to x, as its YAML value (what apply_field() takes for
// `path`): a number for a field; for a schedule parameter the path locality.schedule and a
// polynomial schedule mapping keeping the other two parameters of `config`'s schedule, which
// must be polynomial.
struct NumericKeyValue {
  std::string path;
  std::string yaml;  // "7.3", "{type: polynomial, beta: 7.3, lambda_min: 0, lambda_max: 1}"
};
NumericKeyValue numeric_key_yaml(const TrialConfig& config, std::string_view key, double x);

}  // namespace locsweep
