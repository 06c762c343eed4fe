// Running a helper program (gnuplot; Slurm's sbatch, squeue, sacct, scontrol, scancel) and
// capturing what it prints, with an optional time limit: a Slurm controller that does not
// answer must not hang `locsweep status`.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "common/spawn.hpp"  // ExitStatus, self_executable

namespace locsweep {

struct ProgramResult {
  enum class Ending {
    exited,     // ran and ended: `status` holds its exit status (128 + signal if killed)
    not_found,  // argv[0] is not on PATH
    timed_out,  // still running at the time limit: killed (SIGKILL), `status` is meaningless
  };
  Ending ending = Ending::exited;
  int status = 0;
  std::string out, err;

  bool ok() const { return ending == Ending::exited && status == 0; }
};

// Runs argv[0] (looked up on PATH; ChildProcess::spawn) with the given arguments and stdin
// from /dev/null; waits for it to end, or at most `timeout_s` seconds. Throws Error only when
// the program cannot be started for another reason than not being on PATH (e.g. fork fails).
ProgramResult run_program(const std::vector<std::string>& argv,
                          std::optional<double> timeout_s = std::nullopt);

// `text` without leading and trailing blanks and newlines.
std::string trim(std::string text);

}  // namespace locsweep
