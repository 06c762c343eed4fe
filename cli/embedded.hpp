// Files compiled into the binary, so the demo runs from anywhere with no arguments.
#pragma once

#include "sweeps/sweep_spec.hpp"

namespace locsweep::cli {

// sweeps/demo.yaml as it was at build time, with `overrides` (KEY=VALUE, sweeps/overrides.hpp);
// relative paths resolve against the cwd.
SweepSpec embedded_demo_sweep(const std::vector<std::string>& overrides = {});

}  // namespace locsweep::cli
