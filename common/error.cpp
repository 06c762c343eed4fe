#include "common/error.hpp"

namespace locsweep {

int exit_code_for(const std::exception& e) {
  if (const auto* err = dynamic_cast<const Error*>(&e)) return err->exit_code();
  return 1;
}

}  // namespace locsweep
