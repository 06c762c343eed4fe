// Locality schedules: how much locality lambda_l in [0, 1] each layer l = 0..L-1 gets.
//
// A Schedule is a small value type. It is built from the spec strings users write
//
//   distributed | localist | uniform:0.25            every layer the same
//   linear | quadratic | cubic | quartic | quintic    polynomial with a named exponent
//   sextic | septic | octic | nonic | decic           (1 .. 10)
//   poly:7.5 | poly:3:0.1:0.9                          polynomial(beta[, lambda_min, lambda_max])
//   reverse:cubic                                      any schedule mirrored across depth
//   [0, 0.1, 0.5, 1]                                   explicit values, one per layer
//
// and printed back as one canonical string, so that equal schedules print equally
// ("poly:5" and "quintic" both print "quintic"). See ../shared/SPEC.md, "Schedules".
#pragma once

#include <array>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/error.hpp"

namespace locsweep {

// Thrown for an invalid schedule (bad input, exit 2); what() says what is wrong and ends with
// the valid syntax, "(valid: ...)".
class ScheduleError : public InputError {
 public:
  using InputError::InputError;
};

class Schedule {
 public:
  enum class Kind { uniform, polynomial, reverse, explicit_values };

  static Schedule uniform(double lambda);
  static Schedule polynomial(double beta, double lambda_min = 0.0, double lambda_max = 1.0);
  static Schedule reverse(const Schedule& inner);
  static Schedule explicit_values(std::vector<double> values);
  // Parses a spec string (see the header comment); throws ScheduleError, also for more than
  // kMaxReverseDepth nested "reverse:" (parsing never recurses, whatever the input).
  static Schedule parse(std::string_view spec);
  static constexpr size_t kMaxReverseDepth = 64;

  // lambda_l for a model with n_layer layers. Throws ScheduleError when n_layer < 1 or an
  // explicit list has a different length.
  std::vector<double> lambdas(int n_layer) const;
  // The canonical spec string; parse(canonical()) == *this.
  std::string canonical() const;

  Kind kind() const { return kind_; }
  // Polynomial parameters (meaningful for Kind::polynomial).
  double beta() const { return beta_; }
  double lambda_min() const { return lambda_min_; }
  double lambda_max() const { return lambda_max_; }
  double uniform_value() const { return lambda_max_; }
  const Schedule& inner() const { return *inner_; }  // Kind::reverse only
  const std::vector<double>& values() const { return values_; }

  friend bool operator==(const Schedule& a, const Schedule& b) {
    return a.canonical() == b.canonical();
  }

 private:
  Schedule() = default;
  static Schedule parse_plain(std::string_view spec);  // anything but reverse:
  Kind kind_ = Kind::uniform;
  double beta_ = 1.0, lambda_min_ = 0.0, lambda_max_ = 0.0;
  std::vector<double> values_;
  std::shared_ptr<const Schedule> inner_;  // immutable, so sharing keeps value semantics
};

// The named exponents, the one table of them: kExponentNames[beta - 1] names the integer
// exponent beta = 1..10 ("linear" .. "decic"). The parser, the canonical form, the syntax
// help and the results table's beta column all derive from it.
inline constexpr std::array<std::string_view, 10> kExponentNames = {
    "linear", "quadratic", "cubic", "quartic", "quintic",
    "sextic", "septic",    "octic", "nonic",   "decic"};

// The name of an integer exponent 1..10 ("linear" .. "decic"); empty for other values.
std::string_view exponent_name(double beta);
// The exponent a name stands for ("quintic" -> 5); nullopt for anything else.
std::optional<double> named_exponent(std::string_view name);

// Shortest decimal text that reads back as the same double ("5", "0.25", "1e-05").
// Used wherever a number becomes part of a canonical string or hash.
std::string format_number(double value);

// One line listing what a schedule spec may look like, for error messages.
std::string schedule_syntax_help();

}  // namespace locsweep
