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
