// locsweep-trainer: the trainer binary, the only one that loads LibTorch (worker/). Worker
// ranks start it per attempt (`trial-exec`, trial/child_protocol.hpp); `locsweep trial` runs
// it for one stand-alone trial; `probe` says what it computes with.
#include <CLI/CLI.hpp>
#include <string>

#include "cli/commands.hpp"
#include "cli/run_app.hpp"
#include "cli/version.hpp"
#include "worker/trial.hpp"

int main(int argc, char** argv) {
  locsweep::cli::log_to_stderr();
  if (argc >= 2 && std::string(argv[1]) == "trial-exec")
    return locsweep::cli::trial_exec_main(argc, argv, locsweep::run_trial, "locsweep-trainer");
  CLI::App app{"locsweep-trainer: runs locsweep trials (LibTorch); started by locsweep"};
  app.require_subcommand(1);
  app.set_version_flag(
      "--version", [] { return locsweep::cli::trainer_version_text(); },
      "Print the version, git revision, LibTorch, BLAS, HDF5 and CUDA devices and exit");
  locsweep::cli::add_trial_command(app);
  locsweep::cli::add_probe_command(app);
  return locsweep::cli::run_app(app, argc, argv, "locsweep-trainer");
}
