// `locsweep run`: one entry point for every way a sweep is launched.
//   mpirun/srun -n N locsweep run ...  rank 0 coordinates, ranks 1..N-1 are workers
//   locsweep run ...                    no launcher: one process coordinates and runs the
//                                       trials itself, one at a time (still each in a child)
// Each worker binds to a device: GPU = its index among this node's workers modulo the visible
// GPUs; on CPU, threads = this node's cores / its worker ranks (at least 1).
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "sweeps/sweep_spec.hpp"

namespace locsweep {

struct RunOptions {
  std::string sweep_path;              // empty: the embedded demo sweep
  std::string sweep_text;              // used instead of reading sweep_path when not empty
  std::vector<std::string> overrides;  // KEY=VALUE, applied to the spec (sweeps/overrides.hpp)
  std::string db_path;
  std::string artifacts;  // default: <db folder>/<db name>-artifacts
  std::optional<DispatchOrder> order;
  bool json_log = false;
  int threads = 0;              // 0: cores / worker ranks on the node
  std::string device = "auto";  // auto | cpu | cuda
  bool inline_noop = false;     // noop trials in the worker rank (orchestration benchmarks)
  bool allow_spec_change = false;
  bool retry_failed = false;  // give trials that failed for good another set of attempts
  double lease_s = 30;
  std::optional<int> max_retries;
  std::optional<double> timeout_s;
  double worker_silence_s = 300;  // at least protocol::kMinWorkerSilenceS (the CLI checks)
};

// Exit codes of `locsweep run`.
inline constexpr int kRunComplete = 0;  // every trial done or finally failed
// Work left: stopped by a signal, or every worker rank was lost (EX_TEMPFAIL; run again).
inline constexpr int kRunInterrupted = 75;
// A disk filled up: paused, resumable once space is freed, not requeued (EX_IOERR).
inline constexpr int kRunPaused = 74;
// Every trial done or finally failed, but a worker rank was lost (stopped, hung, dead): once
// the database was closed, rank 0 ended the job with MPI_Abort instead of waiting for that
// rank in MPI_Finalize. With work left as well, the code is kRunInterrupted (or kRunPaused).
inline constexpr int kRunCompleteRankLost = 76;

// Runs (or resumes) the sweep; returns kRunComplete, kRunInterrupted or kRunPaused, throws on
// errors. On rank 0 of an MPI job that lost a worker rank it does not return: MPI_Abort ends
// every rank with kRunCompleteRankLost (or the code it would have returned, or the error's).
int run_sweep(const RunOptions& options, int* argc, char*** argv);

// Default artifacts folder for a database path.
std::string default_artifacts_dir(const std::string& db_path);

}  // namespace locsweep
