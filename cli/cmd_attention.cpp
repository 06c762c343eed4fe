// `locsweep attention FILE.h5`: a summary of a recorded attention file (torch-free reader).
#include <fmt/format.h>

#include <memory>
#include <string>

#include "cli/commands.hpp"
#include "trial/attention_reader.hpp"

namespace locsweep::cli {

void add_attention_command(CLI::App& app) {
  auto file = std::make_shared<std::string>();
  auto* cmd = app.add_subcommand("attention", "Summarise a recorded attention file (attention.h5)");
  cmd->add_option("FILE", *file, "attention.h5 of a trial")->required();
  cmd->callback([file] { fmt::print("{}", summarize_attention_file(*file)); });
}

}  // namespace locsweep::cli
