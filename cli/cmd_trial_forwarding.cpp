// `locsweep trial ...`: one stand-alone trial. Trials need LibTorch, which this binary does not
// load, so the command line is handed as it is to `locsweep-trainer trial` (execv: same pid,
// same stdout, stderr and exit status).
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "cli/commands.hpp"
#include "common/error.hpp"
#include "trial/child_protocol.hpp"

namespace locsweep::cli {

void add_trial_forwarding_command(CLI::App& app) {
  auto* cmd = app.add_subcommand(
      "trial", "Run one trial stand-alone and print its result as JSON (see `trial --help`)");
  cmd->prefix_command();  // everything after `trial` belongs to the trainer, --help included
  cmd->set_help_flag();
  cmd->callback([cmd] {
    const std::string trainer = trainer_executable().string();
    std::vector<std::string> args = {trainer, "trial"};
    for (const auto& a : cmd->remaining()) args.push_back(a);
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    ::execv(trainer.c_str(), argv.data());
    throw Error("cannot start '" + trainer + "': " + std::strerror(errno));
  });
}

}  // namespace locsweep::cli
