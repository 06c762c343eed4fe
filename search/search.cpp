#include "search/search.hpp"

#include <array>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <utility>

namespace locsweep {

namespace {

constexpr std::array<std::pair<SearchMethod, std::string_view>, 2> kMethodNames = {{
    {SearchMethod::brent, "brent"},
    {SearchMethod::lipo, "lipo"},
}};
constexpr std::array<std::pair<SearchMetric, std::string_view>, 5> kMetricNames = {{
    {SearchMetric::val_loss, "val_loss"},
    {SearchMetric::val_ppl, "val_ppl"},
    {SearchMetric::ratio, "ratio"},
    {SearchMetric::mean_lambda, "mean_lambda"},
    {SearchMetric::last_in_block, "last_in_block"},
}};

template <typename Enum, size_t N>
std::string_view name_of(const std::array<std::pair<Enum, std::string_view>, N>& table, Enum e) {
  for (const auto& [value, name] : table)
    if (value == e) return name;
  return "?";
}

template <typename Enum, size_t N>
std::optional<Enum> value_of(const std::array<std::pair<Enum, std::string_view>, N>& table,
                             std::string_view text) {
  for (const auto& [value, name] : table)
    if (name == text) return value;
  return std::nullopt;
}

}  // namespace

std::string_view to_string(SearchMethod method) {
  return name_of(kMethodNames, method);
}
std::optional<SearchMethod> search_method_from_string(std::string_view text) {
  return value_of(kMethodNames, text);
}
std::string_view to_string(SearchMetric metric) {
  return name_of(kMetricNames, metric);
}
std::optional<SearchMetric> search_metric_from_string(std::string_view text) {
  return value_of(kMetricNames, text);
}

bool SearchObjective::needs_baseline() const {
  return metric == SearchMetric::ratio || max_ratio.has_value();
}

double rounded_point(double x) {
  if (!std::isfinite(x) || x == 0) return x;
  char text[32];
  std::snprintf(text, sizeof text, "%.6g", x);
  return std::strtod(text, nullptr);
}

}  // namespace locsweep
