#include "orchestrator/run.hpp"

#include <fmt/format.h>
#include <sched.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <exception>
#include <filesystem>
#include <optional>
#include <thread>
#include <vector>

#include "common/error.hpp"
#include "common/stop_signal.hpp"
#include "orchestrator/coordinator.hpp"
#include "orchestrator/mpi_link.hpp"
#include "orchestrator/protocol.hpp"
#include "orchestrator/search_feed.hpp"
#include "orchestrator/status_snapshot.hpp"
#include "orchestrator/version.hpp"
#include "results/lease.hpp"
#include "results/search_progress.hpp"
#include "results/store.hpp"
#include "sweeps/plan.hpp"
#include "sweeps/search_plan.hpp"
#include "trial/child_protocol.hpp"

namespace locsweep {
namespace fs = std::filesystem;

namespace {

int usable_cores() {
  cpu_set_t set;
  if (sched_getaffinity(0, sizeof set, &set) == 0) return std::max(1, CPU_COUNT(&set));
  return std::max(1u, std::thread::hardware_concurrency());
}

// What the trainer computes with. With --inline-noop no trial reaches it, so it is not
// started (orchestration benchmarks measure the orchestration alone).
TrainerInfo trainer_info(const RunOptions& o, const fs::path& trainer) {
  if (!o.inline_noop) return probe_trainer(trainer);
  TrainerInfo info;
  info.blas = "not loaded (--inline-noop)";
  info.versions = nlohmann::json::object();
  return info;
}

RankSetup rank_setup(const RunOptions& o, const TrainerInfo& trainer, int rank, int local_index,
                     int local_workers, const std::atomic<bool>& stop) {
  RankSetup s;
  s.rank = rank;
  s.host = host_name();
  s.trainer = trainer_executable();
  s.versions = trainer.versions;
  s.inline_noop = o.inline_noop;
  s.stop = &stop;
  const int gpus = o.device == "cpu" ? 0 : trainer.cuda_devices;
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

// After an error (or a lost lease) nothing more is recorded, but every worker that has not
// said bye is told to stop (its trial checkpoints and ends) and waited for, at most this long.
constexpr double kReleaseGraceS = 60;

// Whether a message is a worker's bye; anything unreadable is not (this is the clean-up).
bool is_bye(const nlohmann::json& message) {
  try {
    return std::holds_alternative<protocol::Bye>(protocol::decode_from_rank(message));
  } catch (const protocol::ProtocolError&) {
    return false;
  }
}

// Sends stop to each worker in `unfinished` and waits until each of them that is in `active`
// said bye (or grace_s passed), writing nothing. True when no worker is left unfinished.
bool release_workers(Transport& transport, std::vector<bool> unfinished,
                     const std::vector<bool>& active, double grace_s) {
  int waiting = 0;
  for (int w = 0; w < transport.worker_count(); ++w)
    if (unfinished[static_cast<size_t>(w)]) {
      transport.send(w, protocol::to_json(protocol::Stop{}));
      if (active[static_cast<size_t>(w)]) ++waiting;
    }
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(grace_s);
  while (waiting > 0 && std::chrono::steady_clock::now() < deadline) {
    const auto m = transport.receive(100000);
    if (!m || !is_bye(m->second)) continue;
    const auto w = static_cast<size_t>(m->first);
    if (!unfinished[w]) continue;
    unfinished[w] = false;
    if (active[w]) --waiting;
  }
  return std::none_of(unfinished.begin(), unfinished.end(), [](bool b) { return b; });
}

// The message (and exit code) of a run that stopped on `error` after it began: its run row is
// ended as failed (open attempts interrupted, running trials pending), unless the run lost its
// lease, in which case nothing is written.
[[noreturn]] void end_after_error(ResultsStore& store, int64_t run_id,
                                  const std::exception& error) {
  store.abandon_batch();
  if (dynamic_cast<const LeaseLost*>(&error)) throw Error(error.what());
  std::string recorded;
  try {
    store.end_run(run_id, "failed", error.what());
    recorded = fmt::format(
        "Run {} is recorded failed, its open attempts interrupted and its running trials "
        "pending again; run the same command again to resume",
        run_id);
  } catch (const std::exception& e) {
    recorded = fmt::format(
        "Recording the end of run {} failed too ({}); the next run finds this process gone and "
        "closes its attempts",
        run_id, e.what());
  }
  const std::string message =
      fmt::format("the sweep stopped on an error: {}. {}", error.what(), recorded);
  if (dynamic_cast<const InputError*>(&error)) throw InputError(message);
  throw Error(message);
}

SweepSpec load_spec(const RunOptions& o) {
  if (o.sweep_text.empty()) return load_sweep_with_overrides(o.sweep_path, o.overrides);
  return parse_sweep_with_overrides(o.sweep_text,
                                    o.sweep_path.empty() ? "<embedded demo>" : o.sweep_path,
                                    fs::current_path().string(), o.overrides);
}

RunInfo run_info(int ranks, const std::string& command) {
  RunInfo info;
  info.host = host_name();
  info.pid = ::getpid();
  info.process = process_identity(info.pid);
  info.ranks = ranks;
  if (const char* job = std::getenv("SLURM_JOB_ID")) info.slurm_job_id = job;
  info.command = command;
  return info;
}

struct Registration {
  ResultsStore::SyncResult sync;
  size_t retried = 0;  // failed trials made pending again (--retry-failed)
  int64_t run_id = -1;
};

// Registers the sweep and begins the run holding the lease: all or nothing. Refused while
// another run lives, before any write (this may watch a stopped or remote holder's heartbeat
// for its lease).
// Where the trials' folders go (absolute).
std::string artifacts_root(const RunOptions& o) {
  return fs::absolute(o.artifacts.empty() ? default_artifacts_dir(o.db_path) : o.artifacts);
}

// What `run` registers: the sweep's plan, and with a search every point it has asked so far
// (replayed from the database), so a rerun registers the trials the last run linked.
Plan registered_plan(const SweepSpec& spec, Plan plan, ResultsStore& store) {
  if (!spec.search) return plan;
  return with_search_points(spec, std::move(plan), search_progress(spec, &store.db()).state.asked);
}

Registration register_run(ResultsStore& store, const SweepSpec& spec, const Plan& plan,
                          const RunOptions& o, const RunInfo& info) {
  const LeaseCheck lease = store.check_no_live_run(info);
  const std::string artifacts = artifacts_root(o);
  Registration r;
  Transaction tx(store.db());
  r.sync = store.sync_sweep(spec, plan, artifacts, o.allow_spec_change);
  r.retried = o.retry_failed ? store.retry_failed(r.sync.sweep_id) : 0;
  r.run_id = store.begin_run(r.sync.sweep_id, info, o.lease_s, lease);
  tx.commit();
  return r;
}

void announce_run(StatusDisplay& display, const SweepSpec& spec, const Plan& plan,
                  const Registration& r, int ranks, int workers, const RunOptions& o,
                  const TrainerInfo& trainer) {
  display.note(
      "run_started",
      {{"run_id", r.run_id},
       {"trials", plan.trials.size()},
       {"new_trials", r.sync.new_trials},
       {"ranks", ranks},
       {"workers", workers},
       {"retried_failed", r.retried},
       {"lease_s", o.lease_s},
       {"blas", trainer.blas}},
      fmt::format("run {} of sweep '{}': {} trials ({} new{}), {} worker{}; BLAS: {}", r.run_id,
                  spec.name, plan.trials.size(), r.sync.new_trials,
                  r.retried ? fmt::format(", {} failed ones retried", r.retried) : std::string(),
                  workers, workers == 1 ? "" : "s", trainer.blas));
}

CoordinatorOptions coordinator_options(const RunOptions& o, const SweepSpec& spec,
                                       const RunInfo& info, int64_t run_id,
                                       const std::string& mpi_version,
                                       const std::atomic<bool>& stop) {
  CoordinatorOptions co;
  co.order = o.order.value_or(spec.order);
  co.max_retries = o.max_retries;
  co.timeout_s = o.timeout_s;
  co.worker_silence_s = o.worker_silence_s;
  co.run_heartbeat_s = std::min(co.run_heartbeat_s, o.lease_s / 3);  // a few per lease
  co.stop = &stop;
  co.early_stopping = spec.early_stopping;
  co.manifest = {{"locsweep_version", kLocsweepVersion},
                 {"git_revision", kGitRevision},
                 {"sqlite", sqlite3_libversion()},
                 {"mpi", mpi_version},
                 {"slurm_job_id", info.slurm_job_id},
                 {"run_id", run_id},
                 {"command", info.command}};
  return co;
}

// Ends the run row as the coordinator's ending says and reports it.
void record_end(ResultsStore& store, int64_t run_id, Coordinator::Ending ending,
                const SweepCounts& c, StatusDisplay& display, const std::string& db_path) {
  // A paused run is recorded `interrupted` (resumable); its trials' outcome says disk_full.
  const char* status =
      ending == Coordinator::Ending::complete ? "complete"
      : ending == Coordinator::Ending::interrupted || ending == Coordinator::Ending::paused
          ? "interrupted"
          : "failed";
  store.end_run(run_id, status,
                ending == Coordinator::Ending::failed ? "every worker was lost" : "");
  display.note("run_ended",
               {{"run_id", run_id},
                {"status", status},
                {"done", c.done},
                {"failed", c.failed},
                {"stopped", c.stopped},
                {"pending", c.pending + c.running}},
               fmt::format("run {} {}: {} done, {} failed, {}{} left (results in {})", run_id,
                           status, c.done, c.failed,
                           c.stopped > 0 ? fmt::format("{} stopped early, ", c.stopped) : "",
                           c.pending + c.running, db_path));
}

// After `error`: releases the workers (stop, then wait for their bye), ends the run row if
// one is open (run_id >= 0), and rethrows what the caller should see; ends the MPI job if
// the workers could not be released.
[[noreturn]] void fail_after_error(Transport& transport, const Coordinator* coordinator,
                                   ResultsStore* store, int64_t run_id) {
  std::vector<bool> unfinished(static_cast<size_t>(transport.worker_count()), true);
  std::vector<bool> active = unfinished;
  if (coordinator)
    for (int w = 0; w < transport.worker_count(); ++w) {
      unfinished[static_cast<size_t>(w)] = !coordinator->worker_done(w);
      active[static_cast<size_t>(w)] = !coordinator->worker_done(w) && !coordinator->worker_lost(w);
    }
  bool released = false;
  try {
    released = release_workers(transport, unfinished, active, kReleaseGraceS);
  } catch (const std::exception&) {
    // cannot reach them: the row is still ended below, then the job is ended
  }
  std::exception_ptr outcome;
  try {
    try {
      throw;  // the error being handled
    } catch (const std::exception& e) {
      if (run_id < 0) throw;  // nothing recorded yet (or already ended): the error as it is
      end_after_error(*store, run_id, e);
    }
  } catch (...) {
    outcome = std::current_exception();
  }
  if (!released) {
    try {
      std::rethrow_exception(outcome);
    } catch (const std::exception& x) {
      fmt::print(stderr,
                 "locsweep: {}\nlocsweep: worker ranks did not stop within {:.0f} s; ending "
                 "the MPI job\n",
                 x.what(), kReleaseGraceS);
    }
    transport.abort_all(1);
  }
  std::rethrow_exception(outcome);
}

// What `locsweep run` exits with after the coordinator ended this way.
int exit_code_of(Coordinator::Ending ending, StatusDisplay& display,
                 const Coordinator& coordinator) {
  if (ending == Coordinator::Ending::failed)  // work left, resumable: like an interruption
    display.note("workers_lost", {},
                 "the sweep could not finish: every worker rank was lost; run the same command "
                 "again to resume");
  if (ending == Coordinator::Ending::paused) {
    fmt::print(stderr, "locsweep: sweep paused: {}\n", coordinator.pause_message());
    return kRunPaused;
  }
  return ending == Coordinator::Ending::complete ? kRunComplete : kRunInterrupted;
}

// The coordinator's part: plan, register, lease, schedule, close. Every exit ends the run
// row (complete, interrupted or failed) and releases the workers.
int coordinate(const RunOptions& o, Transport& transport, int ranks, const std::string& mpi_version,
               const TrainerInfo& trainer, const std::string& command,
               const std::atomic<bool>& stop) {
  std::optional<StatusDisplay> display;  // outlives the store, which reports through it
  std::optional<ResultsStore> store;
  int64_t run_id = -1;  // the run row while it is open
  std::optional<Coordinator> coordinator;
  Coordinator::Ending ending = Coordinator::Ending::complete;
  try {
    const SweepSpec spec = load_spec(o);
    Plan planned = plan_sweep(spec);  // a bad spec is refused before the DB is opened
    store.emplace(ResultsStore::open_for_writing(o.db_path));
    const Plan plan = registered_plan(spec, std::move(planned), *store);
    const RunInfo info = run_info(ranks, command);
    const Registration registration = register_run(*store, spec, plan, o, info);
    run_id = registration.run_id;
    display.emplace(spec.name, o.json_log);
    // From here on, waits for a busy database are reported like other events (--json-log).
    store->db().busy().report = [&display](const std::string& line) {
      display->note("db_busy", {{"message", line}}, line);
    };
    announce_run(*display, spec, plan, registration, ranks, transport.worker_count(), o, trainer);
    ResultsStore::OpenTrials open = store->open_trials(registration.sync.sweep_id);
    SweepCounts settled;
    settled.done = open.done;
    settled.failed = open.failed;
    settled.stopped = open.stopped;
    StatusSnapshotWriter snapshot(*store, o.db_path, registration.sync.sweep_id, spec.name, run_id,
                                  info);
    CoordinatorOptions options = coordinator_options(o, spec, info, run_id, mpi_version, stop);
    options.snapshot = &snapshot;
    std::optional<SearchFeed> feed;  // a search's next points, while the sweep runs
    if (spec.search) {
      feed.emplace(*store, spec, registration.sync.sweep_id, artifacts_root(o));
      options.more_trials = [&feed] { return (*feed)(); };
    }
    options.sweep_id = registration.sync.sweep_id;
    coordinator.emplace(*store, run_id, std::move(open.trials), settled, transport, *display,
                        std::move(options));
    ending = coordinator->run();
    record_end(*store, run_id, ending, coordinator->counts(), *display, o.db_path);
    run_id = -1;
    snapshot.finish(coordinator->counts());
  } catch (const std::exception&) {
    fail_after_error(transport, coordinator ? &*coordinator : nullptr, store ? &*store : nullptr,
                     run_id);
  }
  return exit_code_of(ending, *display, *coordinator);
}

// A worker rank's loop: probe for messages, drive the agent, send what it reports.
void work(const RankSetup& setup) {
  RankAgent agent(setup);
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

// Rank 0 after the sweep (its database closed): a lost worker rank may be stopped or hung
// and would block MPI_Finalize forever, so the job ends with MPI_Abort instead.
void abort_if_rank_lost(MpiTransport& transport, int code) {
  if (transport.lost_workers() == 0) return;
  const int exit_code = code == kRunComplete ? kRunCompleteRankLost : code;
  fmt::print(stderr,
             "locsweep: {} worker rank{} lost; everything is recorded, and the job ends with "
             "MPI_Abort (exit {}: {}) instead of waiting for {} in MPI_Finalize\n",
             transport.lost_workers(), transport.lost_workers() == 1 ? " was" : "s were", exit_code,
             exit_code == kRunCompleteRankLost ? "the sweep is complete" : "work is left",
             transport.lost_workers() == 1 ? "it" : "them");
  std::fflush(stderr);
  transport.abort_all(exit_code);
}

}  // namespace

std::string default_artifacts_dir(const std::string& db_path) {
  const fs::path db(db_path);
  return (db.parent_path() / (db.stem().string() + "-artifacts")).string();
}

int run_sweep(const RunOptions& o, int* argc, char*** argv) {
  ::signal(SIGPIPE, SIG_IGN);
  const std::string command = command_line(*argc, *argv);
  const fs::path trainer_path = trainer_executable();
  if (!launched_by_mpi()) {
    const auto& stop = install_stop_signals({SIGINT, SIGTERM, SIGUSR1});
    const TrainerInfo trainer = trainer_info(o, trainer_path);
    InlineTransport transport(rank_setup(o, trainer, 1, 0, 1, stop));
    return coordinate(o, transport, 1, "none (no launcher)", trainer, command, stop);
  }
  MpiSession session(argc, argv);
  const auto& stop = install_stop_signals({SIGINT, SIGTERM, SIGUSR1});
  const TrainerInfo trainer = trainer_info(o, trainer_path);
  if (session.size() == 1) {
    InlineTransport transport(rank_setup(o, trainer, 1, 0, 1, stop));
    return coordinate(o, transport, 1, session.library_version(), trainer, command, stop);
  }
  if (session.rank() != 0) {
    work(rank_setup(o, trainer, session.rank(), session.local_worker_index(),
                    session.local_workers(), stop));
    return kRunComplete;
  }
  MpiTransport transport(session);
  // coordinate() releases the workers on every path; a lost rank would block MPI_Finalize.
  const int code =
      coordinate(o, transport, session.size(), session.library_version(), trainer, command, stop);
  abort_if_rank_lost(transport, code);
  transport.drain();
  return code;
}

}  // namespace locsweep
