#include "sweeps/numeric_keys.hpp"

#include <array>

#include "sweeps/config_fields.hpp"

namespace locsweep {
namespace {

constexpr std::string_view kSchedulePrefix = "locality.schedule.";
constexpr std::array<std::string_view, 3> kScheduleParameters = {"beta", "lambda_min",
                                                                 "lambda_max"};

}  // namespace

bool is_schedule_parameter(std::string_view key) {
  if (key.substr(0, kSchedulePrefix.size()) != kSchedulePrefix) return false;
  const std::string_view leaf = key.substr(kSchedulePrefix.size());
  for (std::string_view p : kScheduleParameters)
    if (leaf == p) return true;
  return false;
}

std::optional<std::string> numeric_key_problem(std::string_view key) {
  if (is_schedule_parameter(key)) return std::nullopt;
  const std::string what =
      "; a numeric key is one of the decimal trial keys (train.lr, locality.kappa, "
      "locality.sigma, ...; see docs/sweep-spec.md) or locality.schedule.beta, "
      "locality.schedule.lambda_min, locality.schedule.lambda_max";
  if (key == "seed") return "'seed' is not searched: give the seeds in 'seeds'" + what;
  const Field* field = find_field(key);
  if (!field) {
    std::string message = "'" + std::string(key) + "' is not a trial key";
    const auto near = similar_paths(key);
    if (!near.empty()) message += " (did you mean '" + near.front() + "'?)";
    return message + what;
  }
  if (!field->range) return "'" + std::string(key) + "' is not numeric" + what;
  if (field->range->integer)
    return "'" + std::string(key) + "' takes whole numbers only, a search needs a continuous key" +
           what;
  return std::nullopt;
}

double numeric_key_value(const TrialConfig& config, std::string_view key) {
  if (!is_schedule_parameter(key)) return find_field(key)->get(config).get<double>();
  const Schedule& s = config.locality.schedule;
  const std::string_view leaf = key.substr(kSchedulePrefix.size());
  if (s.kind() == Schedule::Kind::polynomial)
    return leaf == "beta" ? s.beta() : leaf == "lambda_min" ? s.lambda_min() : s.lambda_max();
  if (s.kind() == Schedule::Kind::uniform && leaf != "beta") return s.uniform_value();
  return 0.0;
}

NumericKeyValue numeric_key_yaml(const TrialConfig& config, std::string_view key, double x) {
  if (!is_schedule_parameter(key)) return {std::string(key), format_number(x)};
  const Schedule& s = config.locality.schedule;
  const std::string_view leaf = key.substr(kSchedulePrefix.size());
  const double beta = leaf == "beta" ? x : s.beta();
  const double lo = leaf == "lambda_min" ? x : s.lambda_min();
  const double hi = leaf == "lambda_max" ? x : s.lambda_max();
  return {"locality.schedule", "{type: polynomial, beta: " + format_number(beta) +
                                   ", lambda_min: " + format_number(lo) +
                                   ", lambda_max: " + format_number(hi) + "}"};
}

}  // namespace locsweep
