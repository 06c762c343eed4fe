#include "slurm/cancel.hpp"

#include <chrono>
#include <thread>

#include "common/error.hpp"
#include "common/process.hpp"

namespace locsweep {

std::string cancel_job(const SlurmJobState& job, CancelMode mode, double timeout_s) {
  // Only a running job has a batch script to signal; a pending one just leaves the queue.
  const bool started = job.state == "RUNNING" || job.state == "SUSPENDED" ||
                       job.state == "STOPPED" || job.state == "CONFIGURING" ||
                       job.state == "SIGNALING";
  std::vector<std::string> argv = {"scancel"};
  if (mode == CancelMode::graceful && started) {
    argv.push_back("--batch");
    argv.push_back("--signal=TERM");
  }
  argv.push_back(job.job_id);
  std::string command;
  for (const auto& a : argv) command += (command.empty() ? "" : " ") + a;

  const ProgramResult scancel = run_program(argv, timeout_s);
  if (scancel.ending == ProgramResult::Ending::not_found)
    throw Error(
        "scancel not found on PATH: `locsweep cancel` needs the Slurm client tools (run it "
        "where squeue and scancel work, e.g. on a login node)");
  if (scancel.ending == ProgramResult::Ending::timed_out)
    throw Error("`" + command + "` did not answer in " +
                std::to_string(static_cast<int>(timeout_s)) + " s; is slurmctld up?");
  if (scancel.status != 0)
    throw Error("`" + command + "` failed (exit " + std::to_string(scancel.status) +
                "): " + trim(scancel.err.empty() ? scancel.out : scancel.err));
  return command;
}

SlurmJobState wait_for_job_end(const std::string& job_id, double limit_s,
                               const std::function<void(const SlurmJobState&, double)>& progress,
                               double interval_s) {
  using Clock = std::chrono::steady_clock;
  const auto start = Clock::now();
  while (true) {
    const SlurmJobState state = query_job_states({job_id}, 10).front();
    const double waited = std::chrono::duration<double>(Clock::now() - start).count();
    if (progress) progress(state, waited);
    if (state.queue_answered && !state.active()) return state;
    if (waited >= limit_s) return state;
    std::this_thread::sleep_for(std::chrono::duration<double>(interval_s));
  }
}

}  // namespace locsweep
