// locsweep-trainer's commands:
// `trial CONFIG [KEY=VALUE...] --out DIR [--resume]`: one trial, stand-alone, progress on
//   stderr, result JSON on stdout (`locsweep trial` forwards here).
// `probe`: what the trainer computes with, as JSON (trial/child_protocol.hpp: TrainerInfo).
// (`trial-exec`, what a worker rank starts per attempt, is trial/trial_child.hpp.)
#include <fmt/format.h>
#include <unistd.h>

#include <chrono>
#include <csignal>
#include <cstdio>
#include <memory>

#include "cli/commands.hpp"
#include "cli/version.hpp"
#include "common/error.hpp"
#include "common/files.hpp"
#include "common/folder_lock.hpp"
#include "common/stop_signal.hpp"
#include "sweeps/sweep_spec.hpp"
#include "trial/child_protocol.hpp"
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
  std::vector<std::string> overrides;
  std::string out;
  bool resume = false;
  std::string device = "auto";
  int threads = 0;
};

// `auto` as `locsweep run` reads it (orchestrator/run.cpp, rank_setup): a GPU when libtorch
// sees one (the first: this is one trial), else the CPU.
std::string resolved_device(const std::string& device) {
  if (device != "auto") return device;
  return cuda_device_count() > 0 ? "cuda:0" : "cpu";
}

void add_run_flags(CLI::App* cmd, TrialFlags& f) {
  cmd->add_option("--out,-o", f.out, "Output folder (checkpoint, attention, result)")->required();
  cmd->add_option("--device", f.device,
                  "auto (the first GPU libtorch sees, else cpu, as `run` does), cpu, cuda or "
                  "cuda:N")
      ->capture_default_str();
  cmd->add_option("--threads", f.threads, "Intra-op threads (0: libtorch's default)")
      ->check(CLI::Range(0, 1024));
}

}  // namespace

void add_trial_command(CLI::App& app) {
  auto flags = std::make_shared<TrialFlags>();
  auto* cmd = app.add_subcommand("trial", "Run one trial stand-alone and print its result as JSON");
  cmd->add_option("CONFIG", flags->config, "Trial config (.yaml or .json)")->required();
  add_overrides_option(cmd, flags->overrides, false);
  add_run_flags(cmd, *flags);
  cmd->add_flag("--resume", flags->resume, "Continue from the checkpoint in --out");
  cmd->callback([flags] {
    const TrialConfig config = load_trial_config_with_overrides(flags->config, flags->overrides);
    const auto& stop = install_stop_signals({SIGINT, SIGTERM, SIGUSR1});
    // One trial process per folder: a second one would overwrite the first one's checkpoint.
    const FolderLock lock = FolderLock::acquire(flags->out, 0);
    ConsoleProgress progress;
    TrialRunOptions options;
    options.out_dir = flags->out;
    options.resume =
        flags->resume ? TrialRunOptions::Resume::required : TrialRunOptions::Resume::never;
    options.device = resolved_device(flags->device);
    options.threads = flags->threads;
    options.progress = &progress;
    options.stop = &stop;
    fmt::print(stderr, "trial {} ({}); BLAS: {}\n", trial_hash(config).substr(0, 12),
               trial_label(config), blas_description());
    const TrialResult result = run_trial(config, options);
    fmt::print("{}\n", to_json(result).dump(2));
    if (result.outcome == Outcome::rung) {  // asked for: not a failure
      fmt::print(stderr,
                 "stopped at step {} as execution.stop_at_step asked, checkpointed; run again "
                 "with --resume and a larger execution.stop_at_step (or 0) to continue\n",
                 result.steps_done);
      return;
    }
    if (result.outcome == Outcome::preempted)
      throw Error("interrupted: checkpointed at step " + std::to_string(result.steps_done) +
                  "; run again with --resume to continue");
    if (result.outcome != Outcome::done)
      throw Error("trial failed (" + std::string(to_string(result.outcome)) +
                  "): " + result.message);
  });
}

void add_probe_command(CLI::App& app) {
  auto* cmd = app.add_subcommand(
      "probe", "Print what the trainer computes with (BLAS, CUDA devices, versions) as JSON");
  cmd->callback([] {
    TrainerInfo info;
    info.blas = blas_description();
    info.cuda_devices = cuda_device_count();
    info.versions = library_versions();
    fmt::print("{}\n", to_json(info).dump());
  });
}

std::string trainer_version_text() {
  const nlohmann::json versions = library_versions();
  return fmt::format("{}\nLibTorch: {}\nBLAS: {}\nHDF5: {}\nCUDA devices: {}\ncompiler: {}",
                     version_header("locsweep-trainer"), versions.value("torch", "unknown"),
                     blas_description(), versions.value("hdf5", "unknown"), cuda_device_count(),
                     versions.value("compiler", "unknown"));
}

}  // namespace locsweep::cli
