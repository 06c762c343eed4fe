// `locsweep run SWEEP.yaml --db results.sqlite`: run or resume a sweep (under mpirun/srun,
// or alone). `locsweep demo`: the same on the embedded demo sweep, then the results table.
#include <fmt/format.h>

#include <memory>

#include "cli/commands.hpp"
#include "cli/embedded.hpp"
#include "common/error.hpp"
#include "common/files.hpp"
#include "orchestrator/protocol.hpp"
#include "orchestrator/run.hpp"
#include "sweeps/sweep_spec.hpp"

namespace locsweep::cli {

namespace {

// --worker-silence must leave room for several missed heartbeats, or healthy ranks are lost.
CLI::Validator worker_silence_check() {
  return CLI::Validator(
      [](std::string& text) -> std::string {
        double v = 0;
        if (!CLI::detail::lexical_cast(text, v) || !(v >= protocol::kMinWorkerSilenceS) || v > 1e9)
          return fmt::format(
              "--worker-silence {}: must be a number of seconds from {:g} to 1e9; every worker "
              "rank sends a heartbeat each {:g} s, and a silence of fewer than {} heartbeat "
              "periods would declare healthy ranks lost (e.g. --worker-silence 60)",
              text, protocol::kMinWorkerSilenceS, protocol::kRankHeartbeatS,
              protocol::kMinSilenceHeartbeats);
        return "";
      },
      fmt::format("SECONDS>={:g}", protocol::kMinWorkerSilenceS));
}

}  // namespace

void add_run_options(CLI::App* cmd, RunOptions& o) {
  add_db_option(cmd, o.db_path, "Results database (SQLite; created if absent)");
  cmd->add_option("--artifacts", o.artifacts,
                  "Folder for checkpoints and attention files (default: <db>-artifacts)");
  cmd->add_option_function<std::string>(
      "--order",
      [&o](const std::string& v) {
        const auto order = dispatch_order_from_string(v);
        if (!order)
          throw CLI::ValidationError("--order", "must be " + std::string(kDispatchOrderChoices));
        o.order = *order;
      },
      "Dispatch order: " + std::string(kDispatchOrderChoices) + " (default: the spec's)");
  cmd->add_flag("--json-log", o.json_log, "Progress as JSON lines on stderr");
  cmd->add_option("--threads", o.threads,
                  "Threads per worker (default: cores / worker ranks on the node)")
      ->check(CLI::Range(0, 1024));
  cmd->add_option("--device", o.device, "auto, cpu or cuda")
      ->check(CLI::IsMember({"auto", "cpu", "cuda"}));
  cmd->add_flag("--inline-noop", o.inline_noop,
                "Run noop trials inside worker ranks (orchestration benchmarks)");
  cmd->add_flag("--allow-spec-change", o.allow_spec_change,
                "Accept a spec that drops trials recorded for this sweep name");
  cmd->add_flag(
      "--retry-failed", o.retry_failed,
      "Give trials that failed for good (nan, error, retries used up) another set of attempts");
  cmd->add_option("--lease", o.lease_s,
                  "This run's lease: seconds it may go without a heartbeat before another run "
                  "may take its database over (it heartbeats a few times per lease)")
      ->check(CLI::Range(1.0, 86400.0));
  cmd->add_option_function<int>(
         "--max-retries", [&o](int v) { o.max_retries = v; }, "Override execution.max_retries")
      ->check(CLI::Range(0, 1000));
  cmd->add_option_function<double>(
         "--timeout", [&o](double v) { o.timeout_s = v; },
         "Override execution.timeout_s (seconds per attempt)")
      ->check(CLI::Range(0.0, 1e9));
  cmd->add_option("--worker-silence", o.worker_silence_s,
                  fmt::format("Seconds a worker rank (idle or busy) may stay silent before it is "
                              "lost; at least {:g} ({} heartbeat periods of {:g} s)",
                              protocol::kMinWorkerSilenceS, protocol::kMinSilenceHeartbeats,
                              protocol::kRankHeartbeatS))
      ->check(worker_silence_check());
}

void add_run_command(CLI::App& app, int* argc, char*** argv) {
  auto o = std::make_shared<RunOptions>();
  auto* cmd = app.add_subcommand("run", "Run or resume a sweep (under mpirun/srun, or alone)");
  cmd->add_option("SWEEP", o->sweep_path, "Sweep spec (YAML)")->required();
  add_overrides_option(cmd, o->overrides);
  add_run_options(cmd, *o);
  cmd->callback([o, argc, argv] {
    // Every rank checks the artifacts folder (writes nothing) before MPI starts and before the DB
    // is touched, so a bad one stops all ranks alike with exit 2 (no rank is left waiting for
    // another).
    ensure_writable_folder(o->artifacts.empty() ? default_artifacts_dir(o->db_path) : o->artifacts,
                           o->artifacts.empty() ? "the artifacts folder (default: <db>-artifacts; "
                                                  "set --artifacts)"
                                                : "--artifacts");
    const int code = run_sweep(*o, argc, argv);
    if (code != kRunComplete) throw ExitCodeError(code);
  });
}

}  // namespace locsweep::cli
