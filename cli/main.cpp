// locsweep: progressive-localisation sweeps on GPT-2. One binary, many subcommands.
#include <CLI/CLI.hpp>
#include <cstdio>
#include <iostream>

#include "cli/commands.hpp"
#include "common/error.hpp"

int main(int argc, char** argv) {
  CLI::App app{"locsweep: run and study progressive-localisation sweeps on GPT-2"};
  app.require_subcommand(1);
  app.set_help_all_flag("--help-all", "Show help for every subcommand");
  locsweep::cli::add_schedule_command(app);
  locsweep::cli::add_plan_command(app);
  locsweep::cli::add_demo_command(app, &argc, &argv);
  locsweep::cli::add_submit_command(app);
  locsweep::cli::add_tokenize_command(app);
  locsweep::cli::add_trial_command(app);
  locsweep::cli::add_trial_exec_command(app);
  locsweep::cli::add_attention_command(app);
  locsweep::cli::add_run_command(app, &argc, &argv);
  locsweep::cli::add_status_command(app);
  locsweep::cli::add_cancel_command(app);
  locsweep::cli::add_results_command(app);
  locsweep::cli::add_report_command(app);
  locsweep::cli::add_keys_command(app);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int code = app.exit(e);
    return code == 0 ? 0 : 2;  // usage errors exit 2, like every other bad input
  } catch (const locsweep::cli::ExitCode& e) {
    return e.code;
  } catch (const std::exception& e) {
    std::fflush(stdout);
    std::cerr << "locsweep: " << e.what() << "\n";
    return locsweep::exit_code_for(e);
  }
  return 0;
}
