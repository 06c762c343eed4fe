// The one place a `locsweep` or `locsweep-trainer` command line becomes an exit status:
// parses it with the commands registered on `app`, and prints a typed error
// (common/error.hpp) once as "PROGRAM: message". Usage errors exit 2, like every bad input.
#pragma once

#include <CLI/CLI.hpp>

#include "trial/trial_child.hpp"

namespace locsweep::cli {

int run_app(CLI::App& app, int argc, char** argv, const char* program);

// `PROGRAM trial-exec ARGS`: one attempt for a worker rank (trial/child_protocol.hpp), the
// trial run by `run`. The rank builds this argv (child_argv); parse_child_argv reads it back.
int trial_exec_main(int argc, char** argv, const TrialRunner& run, const char* program);

// Sends spdlog's default logger to stderr: stdout carries data (a trial child's JSON lines,
// `tokenize`'s tokens, `results --format csv`), never log lines. Both mains call it first.
void log_to_stderr();

}  // namespace locsweep::cli
