// `--version` of both binaries: the first line they share, and what each adds.
#pragma once

#include <string>

#include "orchestrator/version.hpp"

namespace locsweep::cli {

// "PROGRAM 0.1.0 (git 3fc6403a1b2c-dirty)": the revision is the one CMake saw at configure time.
inline std::string version_header(const std::string& program) {
  return program + " " + kLocsweepVersion + " (git " + kGitRevision + ")";
}

// locsweep's: LibTorch as CMake found it (the build's) and as the trainer reports it
// (`locsweep-trainer probe`, when the trainer is present), BLAS (the trainer's), SQLite, HDF5
// and MPI (the libraries this process loaded).
std::string locsweep_version_text();

// locsweep-trainer's (cli/cmd_trial.cpp): LibTorch, BLAS, HDF5 and CUDA devices it runs with.
std::string trainer_version_text();

}  // namespace locsweep::cli
