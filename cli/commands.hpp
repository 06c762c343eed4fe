// Every `locsweep` and `locsweep-trainer` subcommand registers itself on a CLI11 app here. A
// subcommand's callback throws typed errors (common/error.hpp; ExitCodeError to end with a
// documented exit status); run_app() prints them once and exits.
#pragma once

#include <CLI/CLI.hpp>

namespace locsweep::cli {

void add_schedule_command(CLI::App& app);
void add_plan_command(CLI::App& app);
void add_demo_command(CLI::App& app, int* argc, char*** argv);
void add_submit_command(CLI::App& app);
void add_tokenize_command(CLI::App& app);
void add_trial_forwarding_command(CLI::App& app);  // `locsweep trial`: runs the trainer's
void add_attention_command(CLI::App& app);
void add_run_command(CLI::App& app, int* argc, char*** argv);
void add_status_command(CLI::App& app);
void add_cancel_command(CLI::App& app);
void add_results_command(CLI::App& app);
void add_report_command(CLI::App& app);
void add_keys_command(CLI::App& app);
void add_completion_command(CLI::App& app);  // hidden: `completion bash`

// locsweep-trainer's commands (cli/trainer_main.cpp).
void add_trial_command(CLI::App& app);
void add_probe_command(CLI::App& app);

}  // namespace locsweep::cli
