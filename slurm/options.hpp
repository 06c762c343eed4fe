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
  // GPUs per node; 0: none (no --gpus-per-node line). With GPUs every node runs exactly one
  // worker rank per GPU, and the first node rank 0 (the coordinator, no GPU) as well: see
  // rank_layout().
  int gpus_per_node = 0;
  // MPI ranks per node; 0: derived (gpus_per_node + 1 with GPUs, else 2). Without GPUs at least
  // 2 (rank 0, the coordinator, shares the first node with >= 1 worker; every node gets the
  // same count). With GPUs it must be gpus_per_node + 1 (the first node's count) when given.
  int ranks_per_node = 0;
  int cpus_per_task = 0;     // 0: no --cpus-per-task; else per rank, and `run --threads`
  std::string mpi = "pmix";  // srun --mpi: pmix, pmix_vN or pmi2 (none is refused)
  std::string gres;          // empty: no --gres line; e.g. "gpu:a100:4,nvme:1"
  // Shell lines the batch script runs verbatim, in order, before the job step (module load,
  // source venv/bin/activate): the --setup-file's lines, then each --setup.
  std::vector<std::string> setup_lines;
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

// Where the ranks run: `first_node` ranks on the first node (rank 0, the coordinator, and
// first_node - 1 workers), `other_nodes` workers on each further node, `total` in all. With
// GPUs, every node has exactly gpus_per_node workers, so no two workers share a GPU (a worker
// uses GPU `local worker index mod visible GPUs`, orchestrator/run.cpp).
struct RankLayout {
  int first_node = 0, other_nodes = 0, total = 0;
  int workers_on(int node) const { return node == 0 ? first_node - 1 : other_nodes; }
};
// The layout of validated options.
RankLayout rank_layout(const SubmitOptions& options);

// The GPUs per node a --gres list asks for: its "gpu" entry's count (1 without a count), 0
// when it names no gpu. validate() requires it to be gpus_per_node when not 0.
int gres_gpus(const std::string& gres);

// The lines of a --setup-file, in order (no line end kept). Throws InputError naming the file
// when it cannot be read.
std::vector<std::string> read_setup_file(const std::filesystem::path& file);

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
