#include "cli/run_app.hpp"

#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include <cstdio>
#include <iostream>
#include <string>
#include <vector>

#include "cli/commands.hpp"
#include "common/error.hpp"

namespace locsweep::cli {

int trial_exec_main(int argc, char** argv, const TrialRunner& run, const char* program) {
  try {
    const auto request = parse_child_argv(std::vector<std::string>(argv + 2, argv + argc));
    return run_trial_child(request, run);
  } catch (const std::exception& e) {
    std::fflush(stdout);
    std::cerr << program << ": " << e.what() << "\n";
    return exit_code_for(e);
  }
}

CLI::Option* add_overrides_option(CLI::App* cmd, std::vector<std::string>& overrides, bool sweep) {
  return cmd->add_option(
      "OVERRIDES", overrides,
      sweep ? "KEY=VALUE overrides of the sweep, e.g. train.lr=1e-3 "
              "grid.locality.schedule=[linear,cubic] seeds=[0,1]: a dotted key (as in `results "
              "--where`) and a YAML value, applied before the spec is checked; they are part of "
              "the trials' hashes and of the spec stored in the DB (docs/sweep-spec.md)"
            : "KEY=VALUE overrides of the trial config, e.g. train.steps=10 "
              "locality.schedule=cubic: a dotted key and a YAML value, applied before the "
              "config is checked; they are part of the trial's hash (docs/sweep-spec.md)");
}

CLI::Option* add_db_option(CLI::App* cmd, std::string& db, const std::string& what, bool required) {
  auto* option = cmd->add_option(
      "--db", db, what + " (default: $" + kDbEnvironmentVariable + (required ? ")" : ", if set)"));
  option->envname(kDbEnvironmentVariable);
  if (required) option->required();
  return option;
}

void log_to_stderr() {
  spdlog::set_default_logger(spdlog::stderr_logger_st("locsweep"));
}

int run_app(CLI::App& app, int argc, char** argv, const char* program) {
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int code = app.exit(e);
    return code == 0 ? 0 : 2;
  } catch (const std::exception& e) {
    std::fflush(stdout);
    if (*e.what() != '\0') std::cerr << program << ": " << e.what() << "\n";
    return exit_code_for(e);
  }
  return 0;
}

}  // namespace locsweep::cli
