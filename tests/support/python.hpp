// Test helper shared by the unit and worker tests that check locsweep against independent
// Python code: running Debian's /usr/bin/python3 (where python3-torch, h5py and numpy live)
// through the project's own run_program.
#pragma once

#include <string>
#include <vector>

#include "common/process.hpp"

namespace locsweep::test_support {

inline constexpr const char* kPython = "/usr/bin/python3";

// Runs kPython with `args` (a script or -c, and their arguments): exit status, stdout, stderr.
inline ProgramResult run_python(std::vector<std::string> args) {
  args.insert(args.begin(), kPython);
  return run_program(args);
}

// Whether kPython exists and can import `modules` (e.g. "torch, numpy").
inline bool python_can_import(const std::string& modules) {
  return run_python({"-c", "import " + modules}).ok();
}

}  // namespace locsweep::test_support
