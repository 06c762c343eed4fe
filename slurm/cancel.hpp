// Ending a sweep's Slurm job from outside (`locsweep cancel`), so that the trials running at
// the time checkpoint and a later run resumes them.
//
//   graceful  `scancel --batch --signal=TERM JOB`: only the batch script gets SIGTERM; it
//             passes it on to the job steps (slurm/job.sbatch.in), `locsweep run` checkpoints
//             the running trials, records its run 'interrupted' and exits 75, and the script
//             ends without requeueing (job state FAILED, exit code 75). No SIGKILL follows, so
//             slow checkpoints are safe. (Not --full: srun would get the SIGTERM too and turn
//             it into a SIGKILL of the trials.)
//   now       `scancel JOB`: Slurm sends SIGTERM to everything and SIGKILL after the cluster's
//             KillWait; the job ends CANCELLED. Trials that checkpoint within KillWait resume
//             from there, the others from their previous checkpoint.
// A job that is not running yet (pending, requeued) is cancelled with plain scancel either way.
#pragma once

#include <functional>
#include <string>

#include "slurm/job_state.hpp"

namespace locsweep {

enum class CancelMode { graceful, now };

// Signals or cancels `job` as `mode` says; returns the scancel command line it ran. Throws
// Error when scancel is not on PATH, fails, or does not answer within `timeout_s`.
std::string cancel_job(const SlurmJobState& job, CancelMode mode, double timeout_s = 30);

// Polls the job's state every `interval_s` until it has left the queue (squeue answers and
// lists it in a final state, or no longer lists it) or `limit_s` have passed. Calls
// `progress(state, seconds waited)` after each poll. Returns the last state (active() when
// the job was still there at the limit).
SlurmJobState wait_for_job_end(const std::string& job_id, double limit_s,
                               const std::function<void(const SlurmJobState&, double)>& progress,
                               double interval_s = 1.0);

}  // namespace locsweep
