// locsweep-trainer: the trainer binary, the only one that loads LibTorch (worker/). Worker
// ranks start it per attempt (`trial-exec`, trial/child_protocol.hpp); `locsweep trial` runs
// it for one stand-alone trial; `probe` says what it computes with.
#include <CLI/CLI.hpp>
#include <string>
#include <vector>

#include "cli/commands.hpp"
#include "cli/run_app.hpp"
#include "common/error.hpp"
#include "trial/trial_child.hpp"
#include "worker/trial.hpp"

int main(int argc, char** argv) {
  locsweep::cli::log_to_stderr();
  // The rank's side of `trial-exec` builds this argv (child_argv); the same file parses it.
  if (argc >= 2 && std::string(argv[1]) == "trial-exec") {
    try {
      const auto request =
          locsweep::parse_child_argv(std::vector<std::string>(argv + 2, argv + argc));
      return locsweep::run_trial_child(request, locsweep::run_trial);
    } catch (const std::exception& e) {
      std::fprintf(stderr, "locsweep-trainer: %s\n", e.what());
      return locsweep::exit_code_for(e);
    }
  }
  CLI::App app{"locsweep-trainer: runs locsweep trials (LibTorch); started by locsweep"};
  app.require_subcommand(1);
  locsweep::cli::add_trial_command(app);
  locsweep::cli::add_probe_command(app);
  return locsweep::cli::run_app(app, argc, argv, "locsweep-trainer");
}
