// `locsweep trial CONFIG --out DIR [--resume]`: one trial, stand-alone, progress on stderr,
//   result JSON on stdout.
// `locsweep attention FILE.h5`: a summary of a recorded attention file.
// `locsweep trial-exec` (hidden): what a worker rank runs in a child process per attempt;
//   progress and the result as JSON lines on stdout (worker/progress.hpp).
#include <fmt/format.h>
#include <unistd.h>

#include <chrono>
#include <csignal>
#include <cstdio>
#include <memory>
#include <new>
#include <optional>

#include "cli/commands.hpp"
#include "common/error.hpp"
#include "common/files.hpp"
#include "common/folder_lock.hpp"
#include "common/parent_watchdog.hpp"
#include "common/stop_signal.hpp"
#include "sweeps/sweep_spec.hpp"
#include "worker/attention_file.hpp"
#include "worker/runtime_info.hpp"
#include "worker/trial.hpp"

namespace locsweep::cli {
namespace {

// Progress for people: a live line on a terminal, a line every few seconds otherwise.
class ConsoleProgress : public ProgressSink {
 public:
  ConsoleProgress() : tty_(isatty(STDERR_FILENO)) {}
  ~ConsoleProgress() override {
    if (tty_ && live_) std::fputc('\n', stderr);
  }
  void event(const nlohmann::json& e) override {
    const std::string kind = e.value("event", "");
    if (kind == "start") {
      steps_ = e.value("steps", 0);
      print_line(fmt::format("trial: {} parameters on {}, {} steps{}", e.value("parameters", 0),
                             e.value("device", "?"), steps_,
                             e.value("resumed_from", 0)
                                 ? fmt::format(", resuming at step {}", e.value("resumed_from", 0))
                                 : ""));
    } else if (kind == "step") {
      const auto now = std::chrono::steady_clock::now();
      const int step = e.value("step", 0);
      if (!tty_ && step != steps_ && now - last_ < std::chrono::seconds(5)) return;
      last_ = now;
      const std::string line =
          fmt::format("step {:>6}/{}  loss {:.4f}  lr {:.2e}  {:.0f} tok/s  eta {:.0f}s", step,
                      steps_, e.value("loss", 0.0), e.value("lr", 0.0),
                      e.value("tokens_per_s", 0.0), e.value("eta_s", 0.0));
      if (tty_) {
        fmt::print(stderr, "\r{:<78}", line);
        std::fflush(stderr);
        live_ = true;
      } else {
        print_line(line);
      }
    } else if (kind == "eval") {
      print_line(fmt::format("eval at step {}: val loss {:.4f}", e.value("step", 0),
                             e.value("val_loss", 0.0)));
    } else if (kind == "warning") {
      print_line("warning: " + e.value("message", std::string()));
    }
  }

 private:
  void print_line(const std::string& line) {
    if (tty_ && live_) std::fputc('\n', stderr);
    live_ = false;
    fmt::print(stderr, "{}\n", line);
  }
  bool tty_;
  bool live_ = false;
  int steps_ = 0;
  std::chrono::steady_clock::time_point last_{};
};

struct TrialFlags {
  std::string config;
  std::string out;
  bool resume = false;
  std::string device = "cpu";
  int threads = 0;
  int attempt = 1;
  int parent_pid = 0;
  double kill_grace_s = ExecutionConfig{}.kill_grace_s;
};

void add_run_flags(CLI::App* cmd, TrialFlags& f) {
  cmd->add_option("--out,-o", f.out, "Output folder (checkpoint, attention, result)")->required();
  cmd->add_option("--device", f.device, "cpu, cuda or cuda:N")->capture_default_str();
  cmd->add_option("--threads", f.threads, "Intra-op threads (0: libtorch's default)")
      ->check(CLI::Range(0, 1024));
}

void unblock_stop_signals() {
  sigset_t set;
  sigemptyset(&set);
  for (int s : {SIGINT, SIGTERM, SIGUSR1, SIGPIPE}) sigaddset(&set, s);
  ::sigprocmask(SIG_UNBLOCK, &set, nullptr);
}

}  // namespace

void add_trial_command(CLI::App& app) {
  auto flags = std::make_shared<TrialFlags>();
  auto* cmd = app.add_subcommand("trial", "Run one trial stand-alone and print its result as JSON");
  cmd->add_option("CONFIG", flags->config, "Trial config (.yaml or .json)")->required();
  add_run_flags(cmd, *flags);
  cmd->add_flag("--resume", flags->resume, "Continue from the checkpoint in --out");
  cmd->callback([flags] {
    const TrialConfig config = load_trial_config(flags->config);
    const auto& stop = install_stop_signals({SIGINT, SIGTERM, SIGUSR1});
    // One trial process per folder: a second one would overwrite the first one's checkpoint.
    const FolderLock lock = FolderLock::acquire(flags->out, 0);
    ConsoleProgress progress;
    TrialRunOptions options;
    options.out_dir = flags->out;
    options.resume =
        flags->resume ? TrialRunOptions::Resume::required : TrialRunOptions::Resume::never;
    options.device = flags->device;
    options.threads = flags->threads;
    options.progress = &progress;
    options.stop = &stop;
    fmt::print(stderr, "trial {} ({}); BLAS: {}\n", trial_hash(config).substr(0, 12),
               trial_label(config), blas_description());
    const TrialResult result = run_trial(config, options);
    fmt::print("{}\n", to_json(result).dump(2));
    if (result.outcome == Outcome::preempted)
      throw Error("interrupted: checkpointed at step " + std::to_string(result.steps_done) +
                  "; run again with --resume to continue");
    if (result.outcome != Outcome::done)
      throw Error("trial failed (" + std::string(to_string(result.outcome)) +
                  "): " + result.message);
  });
}

void add_trial_exec_command(CLI::App& app) {
  auto flags = std::make_shared<TrialFlags>();
  auto* cmd =
      app.add_subcommand("trial-exec", "(internal) one attempt of a trial, for worker ranks");
  cmd->group("");  // hidden from --help
  cmd->add_option("--config-json", flags->config, "Trial config as JSON")->required();
  add_run_flags(cmd, *flags);
  cmd->add_flag("--resume", flags->resume, "Continue from a valid checkpoint if there is one");
  cmd->add_option("--attempt", flags->attempt, "Attempt number, from 1");
  cmd->add_option("--parent-pid", flags->parent_pid, "The worker rank's pid: end when it dies");
  cmd->add_option("--kill-grace", flags->kill_grace_s,
                  "Seconds from the worker rank's death (SIGTERM: checkpoint) to SIGKILL");
  cmd->callback([flags] {
    // Never die of SIGPIPE while checkpointing because nobody reads our output any more.
    ::signal(SIGPIPE, SIG_IGN);
    // The worker rank reads JSON lines from our stdout; everything else goes to stderr.
    JsonLinesProgress progress(stdout);
    const auto& stop = install_stop_signals({SIGINT, SIGTERM, SIGUSR1});
    unblock_stop_signals();  // the worker starts us with them blocked (trial_process.hpp)
    // If the worker rank dies (kill -9 of the job), checkpoint and stop rather than linger;
    // still here kill_grace_s later (a hung step), the watchdog SIGKILLs us.
    std::optional<ParentWatchdog> watchdog;
    if (flags->parent_pid > 0) watchdog.emplace(flags->parent_pid, flags->kill_grace_s);
    TrialResult result;
    std::optional<FolderLock> lock;  // held until this process ends
    try {
      // A previous attempt still in this folder (orphaned by a killed worker, checkpointing
      // within its grace) is waited for: two processes never work on one trial at once.
      lock = FolderLock::acquire(flags->out, flags->kill_grace_s + 30, [&](pid_t holder) {
        fmt::print(stderr, "waiting for pid {} (a previous attempt) to leave {}\n", holder,
                   flags->out);
        progress.event({{"event", "warning"},
                        {"message", fmt::format("waiting for pid {} (a previous attempt of "
                                                "this trial) to end",
                                                holder)}});
      });
      const TrialConfig config =
          trial_config_from_json(nlohmann::json::parse(read_file(flags->config)));
      TrialRunOptions options;
      options.out_dir = flags->out;
      options.resume =
          flags->resume ? TrialRunOptions::Resume::if_valid : TrialRunOptions::Resume::never;
      options.device = flags->device;
      options.threads = flags->threads;
      options.attempt = flags->attempt;
      options.progress = &progress;
      options.stop = &stop;
      options.parent_pid = flags->parent_pid;
      result = run_trial(config, options);
    } catch (const FolderBusyError& e) {
      result.outcome = Outcome::crash;  // retried: the other process has ended by then
      result.message = e.what();
    } catch (const std::bad_alloc&) {
      result.outcome = Outcome::oom;
      result.message = "out of memory (std::bad_alloc)";
    } catch (const c10::Error& e) {
      const std::string what = e.what_without_backtrace();
      const bool oom = what.find("out of memory") != std::string::npos ||
                       what.find("DefaultCPUAllocator") != std::string::npos;
      result.outcome = oom ? Outcome::oom : Outcome::error;
      result.message = what;
    } catch (const std::exception& e) {
      result.outcome = Outcome::error;
      result.message = e.what();
    }
    nlohmann::json event = to_json(result);
    event["event"] = "result";
    progress.event(event);
    if (std::ferror(stdout)) {
      fmt::print(stderr, "cannot write the result ({}): {}\n", to_string(result.outcome),
                 result.message);
      throw ExitCode(kTrialExecDiskFull);
    }
  });
}

void add_attention_command(CLI::App& app) {
  auto file = std::make_shared<std::string>();
  auto* cmd = app.add_subcommand("attention", "Summarise a recorded attention file (attention.h5)");
  cmd->add_option("FILE", *file, "attention.h5 of a trial")->required();
  cmd->callback([file] { fmt::print("{}", summarize_attention_file(*file)); });
}

}  // namespace locsweep::cli
