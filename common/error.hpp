// The one error style of locsweep: typed exceptions, caught at the CLI edge (cli/main.cpp),
// which prints what() once and exits with exit_code().
//
//   InputError  - the user's input is wrong (a spec, a flag, a file): exit 2. The message
//                 says what is wrong, where, and how to fix it.
//   Error       - anything else that stops a command (I/O, a corrupt file, MPI): exit 1.
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

// Exit code for an exception escaping to the CLI edge (2 for bad input, 1 otherwise).
int exit_code_for(const std::exception& e);

}  // namespace locsweep
