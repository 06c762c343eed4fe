// The batch script `locsweep submit` hands to sbatch: slurm/job.sbatch.in (compiled into the
// binary) with the options filled in. Values reach the script in two ways, both safe for any
// text: shell words are single-quoted (shell_quote), and #SBATCH values are either restricted
// by validate() (names, numbers, times) or double-quoted the way sbatch reads them (the output
// path).
#pragma once

#include <string>
#include <string_view>

#include "slurm/options.hpp"

namespace locsweep {

// One shell word that expands to exactly `text` (single quotes; ' becomes '\''). Throws
// InputError for a NUL byte, which no shell word can hold.
std::string shell_quote(std::string_view text);

// The batch script for `sweep_name` (the spec's name: it names the job). Calls validate().
std::string render_batch_script(const SubmitOptions& options, const std::string& sweep_name);

// The template as compiled in, with its {{PLACEHOLDERS}} (for tests and `--help`).
std::string_view batch_script_template();

}  // namespace locsweep
