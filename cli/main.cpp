// locsweep: progressive-localisation sweeps on GPT-2. The orchestration binary: plans, runs
// (coordinator and worker ranks), watches and reports sweeps without loading LibTorch; each
// trial runs in a child process of `locsweep-trainer` (cli/trainer_main.cpp).
#include <CLI/CLI.hpp>

#include "cli/commands.hpp"
#include "cli/run_app.hpp"
#include "cli/version.hpp"

int main(int argc, char** argv) {
  locsweep::cli::log_to_stderr();
  CLI::App app{"locsweep: run and study progressive-localisation sweeps on GPT-2"};
  app.require_subcommand(1);
  app.set_help_all_flag("--help-all", "Show help for every subcommand");
  app.set_version_flag(
      "--version", [] { return locsweep::cli::locsweep_version_text(); },
      "Print the version, git revision, LibTorch, BLAS, SQLite, HDF5 and MPI versions and exit");
  locsweep::cli::add_schedule_command(app);
  locsweep::cli::add_plan_command(app);
  locsweep::cli::add_demo_command(app, &argc, &argv);
  locsweep::cli::add_submit_command(app);
  locsweep::cli::add_tokenize_command(app);
  locsweep::cli::add_trial_forwarding_command(app);
  locsweep::cli::add_attention_command(app);
  locsweep::cli::add_run_command(app, &argc, &argv);
  locsweep::cli::add_status_command(app);
  locsweep::cli::add_cancel_command(app);
  locsweep::cli::add_results_command(app);
  locsweep::cli::add_report_command(app);
  locsweep::cli::add_keys_command(app);
  locsweep::cli::add_completion_command(app);
  return locsweep::cli::run_app(app, argc, argv, "locsweep");
}
