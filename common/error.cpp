#include "common/error.hpp"

namespace locsweep {

int exit_code_for(const std::exception& e) {
  if (const auto* err = dynamic_cast<const Error*>(&e)) return err->exit_code();
  if (dynamic_cast<const std::invalid_argument*>(&e)) return 2;  // e.g. ScheduleError
  return 1;
}

}  // namespace locsweep
