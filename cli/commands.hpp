// Every `locsweep` and `locsweep-trainer` subcommand registers itself on a CLI11 app here. A
// subcommand's callback throws typed errors (common/error.hpp; ExitCodeError to end with a
// documented exit status); run_app() prints them once and exits.
#pragma once

#include <CLI/CLI.hpp>
#include <string>
#include <vector>

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

// The KEY=VALUE positionals of plan, run, submit and trial (sweeps/overrides.hpp), after the
// spec: dotted keys, YAML values, applied before the spec is checked. `sweep`: the spec is a
// sweep (its keys and axes may be overridden too), else a trial config.
CLI::Option* add_overrides_option(CLI::App* cmd, std::vector<std::string>& overrides,
                                  bool sweep = true);

// The environment variable that gives --db its default (Optuna's OPTUNA_STORAGE).
inline constexpr const char* kDbEnvironmentVariable = "LOCSWEEP_DB";
// The --db option of every command that takes one: `what` for its help, LOCSWEEP_DB its
// default (an explicit --db wins); `required`: the command needs a database from either.
CLI::Option* add_db_option(CLI::App* cmd, std::string& db, const std::string& what,
                           bool required = true);

// locsweep-trainer's commands (cli/trainer_main.cpp).
void add_trial_command(CLI::App& app);
void add_probe_command(CLI::App& app);

}  // namespace locsweep::cli
