// What `locsweep submit` asks of Slurm, and the checks that keep bad values out of the batch
// script (slurm/job.sbatch.in). Every check throws InputError naming the CLI flag at fault.
#pragma once

#include <cstdint>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

namespace locsweep {

struct SubmitOptions {
  int nodes = 1;
  int gpus_per_node = 0;  // 0: no --gpus-per-node line
  // MPI ranks per node. At least 2: rank 0 (the coordinator) shares the first node with the
  // workers, so a node needs the coordinator plus >= 1 worker (and every further node gets the
  // same count, i.e. no node is left without a worker).
  int ranks_per_node = 2;
  std::string time = "24:00:00";  // Slurm format: MM, MM:SS, HH:MM:SS, D-HH, D-HH:MM, D-HH:MM:SS
  std::string partition, account, qos, mem, constraint;  // empty: no line
  std::vector<std::string> extra_sbatch;                 // whole options, e.g. "--mail-type=END"
  // USR1 goes to the job steps this many seconds before the time limit (Slurm may send it up
  // to 60 s earlier still); `locsweep run` then checkpoints and exits 75.
  int signal_warn_s = 120;
  int max_requeues = 20;  // the job requeues itself while SLURM_RESTART_COUNT is below this
  // Absolute paths (the CLI makes them so). artifacts and output may be empty: artifacts is
  // then not passed; output defaults to default_output_pattern().
  std::filesystem::path db, artifacts, sweep_path, locsweep_binary, output;
  std::vector<std::string> overrides;  // KEY=VALUE after SWEEP, passed on to `locsweep run`
};

// Every option as JSON (paths as strings, empty ones included): what the results DB records
// with the job (slurm_jobs.options_json).
nlohmann::json to_json(const SubmitOptions& options);

// Throws InputError for the first invalid option, e.g. "--time: '1h' is not a Slurm time ...".
void validate(const SubmitOptions& options);

// Seconds in a Slurm time limit (MM, MM:SS, HH:MM:SS, D-HH, D-HH:MM, D-HH:MM:SS); throws
// InputError for anything else, including 0 (which Slurm reads as "no limit").
std::int64_t parse_slurm_time(std::string_view text);

// The job name Slurm shows for a sweep: `name` with every byte outside [A-Za-z0-9._-]
// replaced by '_' ("locsweep" if empty).
std::string job_name_for(std::string_view sweep_name);

// The folder beside the DB that holds batch scripts and job output: "<db>.slurm".
std::filesystem::path job_folder(const SubmitOptions& options);

// The --output used when options.output is empty: "<db>.slurm/<job name>-%j.out", with any
// '%' of the path itself doubled so Slurm does not read it as a pattern.
std::string default_output_pattern(const SubmitOptions& options, std::string_view sweep_name);

}  // namespace locsweep
