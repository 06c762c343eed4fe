// `locsweep submit`: a sweep as a self-requeueing Slurm batch job. The library entry point;
// includes the options (slurm/options.hpp) and the script rendering (slurm/batch_script.hpp).
//
// The job runs the set-up lines, then `locsweep run SWEEP --db DB [--artifacts DIR]` on every
// rank through `srun --mpi=<mpi> --distribution=arbitrary` (one worker per GPU, rank_layout())
// and scripts/launch, gets USR1 `signal_warn_s` before its time limit, and requeues itself
// (`scontrol requeue`) while the run exits 75 (work left) and SLURM_RESTART_COUNT is below
// `max_requeues`. See slurm/job.sbatch.in.
#pragma once

#include <filesystem>
#include <string>

#include "slurm/batch_script.hpp"
#include "slurm/options.hpp"

namespace locsweep {

struct SubmitResult {
  std::string job_id;            // e.g. "1234"
  std::string cluster;           // set when sbatch names one ("1234;cluster"), else empty
  std::filesystem::path script;  // the script that was submitted: <db>.slurm/<job>-<time>.sbatch
  std::string output;            // the job's --output pattern (%j: the job id)
};

// Validates, writes the batch script into job_folder(options) and runs
// `sbatch --parsable SCRIPT` (sbatch from PATH, in the current directory). Throws InputError
// for invalid options and Error when sbatch is missing, fails or prints no job id (its stderr
// is in the message; the script is kept).
SubmitResult submit(const SubmitOptions& options, const std::string& sweep_name);

}  // namespace locsweep
