#include "orchestrator/run.hpp"

#include <fmt/format.h>
#include <sched.h>
#include <signal.h>
#include <unistd.h>

#include <filesystem>
#include <thread>

#include "common/error.hpp"
#include "common/stop_signal.hpp"
#include "orchestrator/coordinator.hpp"
#include "orchestrator/mpi_link.hpp"
#include "orchestrator/protocol.hpp"
#include "orchestrator/version.hpp"
#include "results/store.hpp"
#include "sweeps/plan.hpp"
#include "worker/runtime_info.hpp"

namespace locsweep {
namespace fs = std::filesystem;

namespace {

std::string hostname() {
  char name[256] = {};
  ::gethostname(name, sizeof name - 1);
  return name;
}

int usable_cores() {
  cpu_set_t set;
  if (sched_getaffinity(0, sizeof set, &set) == 0) return std::max(1, CPU_COUNT(&set));
  return std::max(1u, std::thread::hardware_concurrency());
}

WorkerSetup worker_setup(const RunOptions& o, int rank, int local_index, int local_workers,
                         const std::atomic<bool>& stop) {
  WorkerSetup s;
  s.rank = rank;
  s.host = hostname();
  s.executable = self_executable();
  s.inline_noop = o.inline_noop;
  s.stop = &stop;
  const int gpus = o.device == "cpu" ? 0 : cuda_device_count();
  if (o.device == "cuda" && gpus == 0)
    throw InputError(
        "--device cuda: no CUDA GPU is visible to this libtorch (Debian's libtorch is CPU-only)");
  if (gpus > 0) {
    s.device = "cuda:" + std::to_string(local_index % gpus);
    s.threads = o.threads > 0 ? o.threads : 1;
  } else {
    s.device = "cpu";
    s.threads =
        o.threads > 0 ? o.threads : std::max(1, usable_cores() / std::max(1, local_workers));
  }
  return s;
}

std::string command_line(int argc, char** argv) {
  std::string out;
  for (int i = 0; i < argc; ++i) out += (i ? " " : "") + std::string(argv[i]);
  return out;
}

// The coordinator's part: plan, register, lease, schedule, close.
int coordinate(const RunOptions& o, Transport& transport, int ranks, const std::string& mpi_version,
               const std::string& command, const std::atomic<bool>& stop) {
  const SweepSpec spec =
      o.sweep_text.empty()
          ? load_sweep(o.sweep_path)
          : parse_sweep(o.sweep_text, o.sweep_path.empty() ? "<embedded demo>" : o.sweep_path,
                        fs::current_path().string());
  const Plan plan = plan_sweep(spec);
  ResultsStore store = ResultsStore::open_for_writing(o.db_path);
  RunInfo info;
  info.host = hostname();
  info.pid = ::getpid();
  info.ranks = ranks;
  if (const char* job = std::getenv("SLURM_JOB_ID")) info.slurm_job_id = job;
  info.command = command;
  store.check_no_live_run(info, o.lease_s);  // refused while another run is live: before any write
  const std::string artifacts =
      fs::absolute(o.artifacts.empty() ? default_artifacts_dir(o.db_path) : o.artifacts);
  const auto sync = store.sync_sweep(spec, plan, artifacts, o.allow_spec_change);
  const size_t retried = o.retry_failed ? store.retry_failed(sync.sweep_id) : 0;
  const int64_t run_id = store.begin_run(sync.sweep_id, info, o.lease_s);

  StatusDisplay display(spec.name, o.json_log);
  display.note(
      "run_started",
      {{"run_id", run_id},
       {"trials", plan.trials.size()},
       {"new_trials", sync.new_trials},
       {"ranks", ranks},
       {"workers", transport.worker_count()},
       {"retried_failed", retried},
       {"blas", blas_description()}},
      fmt::format("run {} of sweep '{}': {} trials ({} new{}), {} worker{}; BLAS: {}", run_id,
                  spec.name, plan.trials.size(), sync.new_trials,
                  retried ? fmt::format(", {} failed ones retried", retried) : std::string(),
                  transport.worker_count(), transport.worker_count() == 1 ? "" : "s",
                  blas_description()));
  CoordinatorOptions co;
  co.order = o.order.value_or(spec.order);
  co.max_retries = o.max_retries;
  co.timeout_s = o.timeout_s;
  co.worker_silence_s = o.worker_silence_s;
  co.stop = &stop;
  co.manifest = {{"locsweep_version", kLocsweepVersion},
                 {"git_revision", kGitRevision},
                 {"sqlite", sqlite3_libversion()},
                 {"mpi", mpi_version},
                 {"slurm_job_id", info.slurm_job_id},
                 {"run_id", run_id},
                 {"command", command}};
  ResultsStore::OpenTrials open = store.open_trials(sync.sweep_id);
  SweepCounts settled;
  settled.done = open.done;
  settled.failed = open.failed;
  Coordinator coordinator(store, run_id, std::move(open.trials), settled, transport, display, co);
  const Coordinator::Ending ending = coordinator.run();
  const SweepCounts c = coordinator.counts();
  // A paused run is recorded `interrupted` (resumable); its trials' outcome says disk_full.
  const char* status =
      ending == Coordinator::Ending::complete ? "complete"
      : ending == Coordinator::Ending::interrupted || ending == Coordinator::Ending::paused
          ? "interrupted"
          : "failed";
  store.end_run(run_id, status);
  display.note("run_ended",
               {{"run_id", run_id},
                {"status", status},
                {"done", c.done},
                {"failed", c.failed},
                {"pending", c.pending + c.running}},
               fmt::format("run {} {}: {} done, {} failed, {} left (results in {})", run_id, status,
                           c.done, c.failed, c.pending + c.running, o.db_path));
  if (ending == Coordinator::Ending::failed)
    throw Error(
        "the sweep could not finish: every worker was lost; run the same command again to resume");
  if (ending == Coordinator::Ending::paused) {
    fmt::print(stderr, "locsweep: sweep paused: {}\n", coordinator.pause_message());
    return kRunPaused;
  }
  return ending == Coordinator::Ending::complete ? kRunComplete : kRunInterrupted;
}

// A worker rank's loop: probe for messages, drive the agent, send what it reports.
void work(const WorkerSetup& setup) {
  WorkerAgent agent(setup);
  PendingSends sends;
  sends.send(agent.ready_message(), 0);
  int nap_us = 20;
  while (!agent.done()) {
    bool heard = false;
    while (auto message = try_receive(0)) {
      agent.on_message(message->second);
      heard = true;
    }
    const auto out = agent.poll(agent.busy() ? 20 : 0);
    for (const auto& m : out) sends.send(m, 0);
    sends.progress();
    if (heard || !out.empty() || agent.busy()) {
      nap_us = 20;
    } else {
      std::this_thread::sleep_for(std::chrono::microseconds(nap_us));
      nap_us = std::min(nap_us * 2, 2000);
    }
  }
  sends.drain();
}

}  // namespace

std::string default_artifacts_dir(const std::string& db_path) {
  const fs::path db(db_path);
  return (db.parent_path() / (db.stem().string() + "-artifacts")).string();
}

int run_sweep(const RunOptions& o, int* argc, char*** argv) {
  ::signal(SIGPIPE, SIG_IGN);
  const std::string command = command_line(*argc, *argv);
  if (!launched_by_mpi()) {
    const auto& stop = install_stop_signals({SIGINT, SIGTERM, SIGUSR1});
    InlineTransport transport(worker_setup(o, 1, 0, 1, stop));
    return coordinate(o, transport, 1, "none (no launcher)", command, stop);
  }
  MpiSession session(argc, argv);
  const auto& stop = install_stop_signals({SIGINT, SIGTERM, SIGUSR1});
  if (session.size() == 1) {
    InlineTransport transport(worker_setup(o, 1, 0, 1, stop));
    return coordinate(o, transport, 1, session.library_version(), command, stop);
  }
  if (session.rank() != 0) {
    work(worker_setup(o, session.rank(), session.local_worker_index(), session.local_workers(),
                      stop));
    return kRunComplete;
  }
  MpiTransport transport(session);
  try {
    const int code =
        coordinate(o, transport, session.size(), session.library_version(), command, stop);
    transport.drain();
    return code;
  } catch (...) {
    // Workers are waiting for work: release them so every rank reaches MPI_Finalize.
    for (int w = 0; w < transport.worker_count(); ++w)
      transport.send(w, {{"type", protocol::kShutdown}});
    int byes = 0;
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    while (byes < transport.worker_count() && std::chrono::steady_clock::now() < deadline)
      if (auto m = transport.receive(100000); m && m->second.value("type", "") == protocol::kBye)
        ++byes;
    transport.drain();
    throw;
  }
}

}  // namespace locsweep
