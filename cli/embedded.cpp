#include "cli/embedded.hpp"

#include <filesystem>

#include "cli/demo_yaml.hpp"  // generated from sweeps/demo.yaml: kDemoYaml

namespace locsweep::cli {

SweepSpec embedded_demo_sweep(const std::vector<std::string>& overrides) {
  return parse_sweep_with_overrides(std::string(kDemoYaml), "<embedded sweeps/demo.yaml>",
                                    std::filesystem::current_path().string(), overrides);
}

}  // namespace locsweep::cli
