// The one error style of locsweep: typed exceptions, caught once at the CLI edge
// (cli/run_app.cpp), which prints what() once (prefixed by the program's name) and exits with
// exit_code(). Every module reports failure this way.
//
//   InputError    - the user's input is wrong (a spec, a flag, a file): exit 2. The message
//                   says what is wrong, where, and how to fix it. Subclasses add structured
//                   fields (SpecError in sweeps/spec_error.hpp: the file's line and column;
//                   FieldError in sweeps/config_fields.hpp: whether the message already
//                   lists the valid values; ScheduleError) - callers branch on those fields,
//                   never on message text.
//   Error         - anything else that stops a command (I/O, a corrupt file, MPI): exit 1.
//   ExitCodeError - a command that ends with a chosen exit status it documents (74/75/76:
//                   `locsweep run` paused / interrupted / a rank lost, orchestrator/run.hpp).
//                   An empty message prints nothing: the command has said what it had to.
//
// No command chooses its exit status another way. Errors of the libraries below us (yaml-cpp,
// SQLite, HDF5) are turned into one of these where locsweep calls them; any other
// std::exception that escapes (std::filesystem, std::bad_alloc) counts as Error: exit 1.
//
// Expected outcomes that are not failures (a trial that diverged, a helper program that is
// not installed) are values (trial/trial_result.hpp Outcome, common/process.hpp
// ProgramResult), not exceptions. A function that finds a problem for its caller to place
// (find_problem in sweeps/trial_config.hpp) returns it as a value too.
#pragma once

#include <stdexcept>
#include <string>

namespace locsweep {

class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
  virtual int exit_code() const { return 1; }
};

class InputError : public Error {
 public:
  using Error::Error;
  int exit_code() const override { return 2; }
};

// Ends a command with exit status `code`; the CLI edge prints what() only when not empty.
class ExitCodeError : public Error {
 public:
  explicit ExitCodeError(int code, const std::string& message = "") : Error(message), code_(code) {}
  int exit_code() const override { return code_; }

 private:
  int code_;
};

// Exit code for an exception escaping to the CLI edge (2 for bad input, 1 otherwise).
int exit_code_for(const std::exception& e);

}  // namespace locsweep
