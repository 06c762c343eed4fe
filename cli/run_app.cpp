#include "cli/run_app.hpp"

#include <cstdio>
#include <iostream>

#include "cli/commands.hpp"
#include "common/error.hpp"

namespace locsweep::cli {

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
