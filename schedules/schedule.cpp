#include "schedules/schedule.hpp"

#include <array>
#include <charconv>
#include <cmath>
#include <string>

namespace locsweep {
namespace {

[[noreturn]] void fail(const std::string& message) {
  throw ScheduleError(message + " (valid: " + std::string(schedule_syntax_help()) + ")");
}

void check_lambda(double value, std::string_view what) {
  if (!std::isfinite(value) || value < 0.0 || value > 1.0)
    fail(std::string(what) + " must be a number in [0, 1], got " + format_number(value));
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return s;
}

double parse_number(std::string_view text, std::string_view what) {
  text = trim(text);
  double value = 0.0;
  // from_chars rejects a leading '+'; accept it since users write "+1e-3" in YAML.
  std::string_view digits = (!text.empty() && text.front() == '+') ? text.substr(1) : text;
  auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), value);
  if (digits.empty() || ec != std::errc() || end != digits.data() + digits.size())
    fail(std::string(what) + ": '" + std::string(text) + "' is not a number");
  if (!std::isfinite(value)) fail(std::string(what) + " must be finite, got " + std::string(text));
  return value;
}

std::vector<std::string_view> split(std::string_view s, char sep) {
  std::vector<std::string_view> parts;
  size_t start = 0;
  for (size_t i = 0; i <= s.size(); ++i) {
    if (i == s.size() || s[i] == sep) {
      parts.push_back(s.substr(start, i - start));
      start = i + 1;
    }
  }
  return parts;
}

}  // namespace

std::string schedule_syntax_help() {
  std::string names;
  for (const std::string_view name : kExponentNames)
    names += (names.empty() ? "" : "|") + std::string(name);
  return "distributed, localist, uniform:<lambda>, " + names +
         ", poly:<beta>[:<lambda_min>:<lambda_max>], reverse:<schedule>, "
         "[<lambda_0>, ..., <lambda_L-1>]";
}

std::string format_number(double value) {
  if (value == 0.0) return "0";  // also folds -0 into 0
  std::array<char, 32> buf{};
  auto [end, ec] = std::to_chars(buf.data(), buf.data() + buf.size(), value);
  return std::string(buf.data(), end);
}

std::string_view exponent_name(double beta) {
  if (beta >= 1.0 && beta <= 10.0 && beta == std::floor(beta))
    return kExponentNames[static_cast<size_t>(beta) - 1];
  return {};
}

std::optional<double> named_exponent(std::string_view name) {
  for (size_t i = 0; i < kExponentNames.size(); ++i)
    if (name == kExponentNames[i]) return static_cast<double>(i + 1);
  return std::nullopt;
}

Schedule Schedule::uniform(double lambda) {
  check_lambda(lambda, "uniform lambda");
  Schedule s;
  s.kind_ = Kind::uniform;
  s.lambda_min_ = s.lambda_max_ = lambda;
  return s;
}

Schedule Schedule::polynomial(double beta, double lambda_min, double lambda_max) {
  if (!std::isfinite(beta) || beta <= 0.0)
    fail("polynomial beta must be a finite number > 0, got " + format_number(beta));
  check_lambda(lambda_min, "lambda_min");
  check_lambda(lambda_max, "lambda_max");
  if (lambda_min > lambda_max)
    fail("lambda_min (" + format_number(lambda_min) + ") must not exceed lambda_max (" +
         format_number(lambda_max) + ")");
  Schedule s;
  s.kind_ = Kind::polynomial;
  s.beta_ = beta;
  s.lambda_min_ = lambda_min;
  s.lambda_max_ = lambda_max;
  return s;
}

Schedule Schedule::reverse(const Schedule& inner) {
  // Mirroring is an involution and leaves a uniform schedule unchanged: fold both, so that
  // equal schedules have one canonical string.
  if (inner.kind_ == Kind::reverse) return *inner.inner_;
  if (inner.kind_ == Kind::uniform) return inner;
  Schedule s;
  s.kind_ = Kind::reverse;
  s.inner_ = std::make_shared<const Schedule>(inner);
  return s;
}

Schedule Schedule::explicit_values(std::vector<double> values) {
  if (values.empty()) fail("an explicit schedule needs at least one value");
  for (size_t i = 0; i < values.size(); ++i)
    check_lambda(values[i], "explicit value #" + std::to_string(i));
  Schedule s;
  s.kind_ = Kind::explicit_values;
  s.values_ = std::move(values);
  return s;
}

Schedule Schedule::parse(std::string_view spec_in) {
  // "reverse:" prefixes are peeled off in a loop (no recursion, so no depth can overflow the
  // stack), bounded so that a hostile string gets a clear error.
  std::string_view spec = trim(spec_in);
  size_t reversals = 0;
  while (spec.substr(0, spec.find(':')) == "reverse") {
    const size_t colon = spec.find(':');
    const std::string_view rest =
        colon == std::string_view::npos ? "" : trim(spec.substr(colon + 1));
    if (rest.empty()) fail("reverse needs a schedule, e.g. reverse:cubic");
    if (++reversals > kMaxReverseDepth)
      fail("the schedule nests 'reverse:' more than " + std::to_string(kMaxReverseDepth) +
           " levels deep");
    spec = rest;
  }
  Schedule s = parse_plain(spec);
  return reversals % 2 == 0 ? s : reverse(s);
}

Schedule Schedule::parse_plain(std::string_view spec) {
  if (spec.empty()) fail("empty schedule");
  if (spec == "distributed") return uniform(0.0);
  if (spec == "localist") return uniform(1.0);
  if (const auto beta = named_exponent(spec)) return polynomial(*beta);
  if (spec.front() == '[') {
    if (spec.back() != ']') fail("explicit schedule '" + std::string(spec) + "' lacks a closing ]");
    std::vector<double> values;
    for (std::string_view item : split(spec.substr(1, spec.size() - 2), ','))
      values.push_back(parse_number(item, "explicit schedule value"));
    return explicit_values(std::move(values));
  }
  const size_t colon = spec.find(':');
  const std::string_view head = spec.substr(0, colon);
  const std::string_view rest = colon == std::string_view::npos ? "" : spec.substr(colon + 1);
  if (head == "uniform") {
    if (rest.empty()) fail("uniform needs a value, e.g. uniform:0.5");
    return uniform(parse_number(rest, "uniform lambda"));
  }
  if (head == "poly" || head == "polynomial") {
    const auto parts = split(rest, ':');
    if (rest.empty() || (parts.size() != 1 && parts.size() != 3))
      fail("'" + std::string(spec) +
           "': write poly:<beta> or poly:<beta>:<lambda_min>:<lambda_max>");
    const double beta = parse_number(parts[0], "polynomial beta");
    if (parts.size() == 1) return polynomial(beta);
    return polynomial(beta, parse_number(parts[1], "lambda_min"),
                      parse_number(parts[2], "lambda_max"));
  }
  fail("unknown schedule '" + std::string(spec) + "'");
}

std::vector<double> Schedule::lambdas(int n_layer) const {
  if (n_layer < 1) fail("a schedule needs at least one layer, got " + std::to_string(n_layer));
  std::vector<double> out(static_cast<size_t>(n_layer));
  switch (kind_) {
    case Kind::uniform:
      std::fill(out.begin(), out.end(), lambda_max_);
      break;
    case Kind::polynomial:
      for (int l = 0; l < n_layer; ++l) {
        // For L = 1 the single layer is the last layer: lambda_max (SPEC).
        const double depth = n_layer == 1 ? 1.0 : static_cast<double>(l) / (n_layer - 1);
        out[l] = lambda_min_ + (lambda_max_ - lambda_min_) * std::pow(depth, beta_);
      }
      break;
    case Kind::reverse: {
      const auto inner = inner_->lambdas(n_layer);
      for (int l = 0; l < n_layer; ++l) out[l] = inner[n_layer - 1 - l];
      break;
    }
    case Kind::explicit_values:
      if (values_.size() != out.size())
        fail("explicit schedule has " + std::to_string(values_.size()) +
             " values but the model has " + std::to_string(n_layer) + " layers");
      out = values_;
      break;
  }
  return out;
}

std::string Schedule::canonical() const {
  switch (kind_) {
    case Kind::uniform:
      if (lambda_max_ == 0.0) return "distributed";
      if (lambda_max_ == 1.0) return "localist";
      return "uniform:" + format_number(lambda_max_);
    case Kind::polynomial: {
      if (lambda_min_ == 0.0 && lambda_max_ == 1.0) {
        const std::string_view name = exponent_name(beta_);
        if (!name.empty()) return std::string(name);
        return "poly:" + format_number(beta_);
      }
      return "poly:" + format_number(beta_) + ":" + format_number(lambda_min_) + ":" +
             format_number(lambda_max_);
    }
    case Kind::reverse:
      return "reverse:" + inner_->canonical();
    case Kind::explicit_values: {
      std::string out = "[";
      for (size_t i = 0; i < values_.size(); ++i) out += (i ? "," : "") + format_number(values_[i]);
      return out + "]";
    }
  }
  return {};
}

}  // namespace locsweep
