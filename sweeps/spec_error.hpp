// An error in a YAML/JSON spec, located like a compiler's: "FILE:LINE:COL: error: ...".
#pragma once

#include <yaml-cpp/mark.h>

#include <string>

#include "common/error.hpp"

namespace locsweep {

class SpecError : public InputError {
 public:
  // line/column are 1-based in the message; yaml-cpp marks are 0-based.
  SpecError(const std::string& file, const YAML::Mark& mark, const std::string& message)
      : InputError(locate(file, mark) + "error: " + message),
        message_(message),
        line_(mark.is_null() ? 0 : mark.line + 1),
        column_(mark.is_null() ? 0 : mark.column + 1) {}
  const std::string& message() const { return message_; }  // without the place
  int line() const { return line_; }
  int column() const { return column_; }

 private:
  static std::string locate(const std::string& file, const YAML::Mark& mark) {
    if (mark.is_null()) return file + ": ";
    return file + ":" + std::to_string(mark.line + 1) + ":" + std::to_string(mark.column + 1) +
           ": ";
  }
  std::string message_;
  int line_, column_;
};

}  // namespace locsweep
