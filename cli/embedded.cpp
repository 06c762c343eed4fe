#include "cli/embedded.hpp"

#include <filesystem>

#include "cli/demo_yaml.hpp"  // generated from sweeps/demo.yaml: kDemoYaml

namespace locsweep::cli {

SweepSpec embedded_demo_sweep() {
  return parse_sweep(std::string(kDemoYaml), "<embedded sweeps/demo.yaml>",
                     std::filesystem::current_path().string());
}

}  // namespace locsweep::cli
