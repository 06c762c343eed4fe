#include "trial/child_protocol.hpp"

#include <signal.h>
#include <unistd.h>

#include <cstdlib>
#include <type_traits>

#include "common/error.hpp"

namespace locsweep {
namespace fs = std::filesystem;
using nlohmann::json;

fs::path trainer_executable() {
  if (const char* set = std::getenv("LOCSWEEP_TRAINER"); set && *set) {
    if (::access(set, X_OK) != 0)
      throw Error(std::string("LOCSWEEP_TRAINER is '") + set +
                  "', which is not an executable file; unset it to use the locsweep-trainer "
                  "next to this binary");
    return set;
  }
  const fs::path path = fs::path(self_executable()).parent_path() / "locsweep-trainer";
  if (::access(path.c_str(), X_OK) != 0)
    throw Error("the trainer '" + path.string() +
                "' is missing: trials run in it; build it (cmake --build BUILD --target "
                "locsweep-trainer) or set LOCSWEEP_TRAINER to its path");
  return path;
}

json to_json(const TrainerInfo& info) {
  return {{"blas", info.blas}, {"cuda_devices", info.cuda_devices}, {"versions", info.versions}};
}

TrainerInfo trainer_info_from_json(const json& j) {
  try {
    TrainerInfo info;
    info.blas = j.at("blas").get<std::string>();
    info.cuda_devices = j.at("cuda_devices").get<int>();
    info.versions = j.at("versions");
    return info;
  } catch (const json::exception& e) {
    throw InputError(std::string("the trainer's probe answer is not what this locsweep expects (") +
                     e.what() + "): rebuild locsweep and locsweep-trainer together");
  }
}

TrainerInfo probe_trainer(const fs::path& trainer) {
  const ProgramResult r = run_program({trainer.string(), "probe"}, 120.0);
  if (!r.ok())
    throw Error("'" + trainer.string() + " probe' failed (" +
                (r.ending == ProgramResult::Ending::exited ? "exit code " + std::to_string(r.status)
                                                           : std::string("did not answer")) +
                "): " + trim(r.err));
  const json answer = json::parse(r.out, nullptr, false);
  if (answer.is_discarded())
    throw Error("'" + trainer.string() + " probe' printed no JSON: " + trim(r.out));
  return trainer_info_from_json(answer);
}

std::vector<std::string> child_argv(const fs::path& trainer, const ChildRequest& q) {
  std::vector<std::string> argv = {trainer.string(), "trial-exec",
                                   "--config-json",  q.config_json.string(),
                                   "--out",          q.out_dir.string(),
                                   "--attempt",      std::to_string(q.attempt),
                                   "--device",       q.device,
                                   "--threads",      std::to_string(q.threads),
                                   "--parent-pid",   std::to_string(q.parent_pid),
                                   "--kill-grace",   std::to_string(q.kill_grace_s)};
  if (q.resume) argv.push_back("--resume");
  return argv;
}

namespace {

// The whole of `text` as a T (int or double), or an InputError naming the flag.
template <typename T>
T numeric_argument(const std::string& flag, const std::string& text) {
  size_t used = 0;
  T value{};
  try {
    if constexpr (std::is_integral_v<T>) {
      value = std::stoi(text, &used);
    } else {
      value = std::stod(text, &used);
    }
  } catch (const std::exception&) {
    used = 0;
  }
  if (used == 0 || used != text.size())
    throw InputError("trial-exec: " + flag + " wants " +
                     (std::is_integral_v<T> ? "an integer" : "a number") + ", got '" + text + "'");
  return value;
}

}  // namespace

ChildRequest parse_child_argv(const std::vector<std::string>& args) {
  ChildRequest q;
  q.resume = false;
  bool have_config = false, have_out = false;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& flag = args[i];
    if (flag == "--resume") {
      q.resume = true;
      continue;
    }
    if (i + 1 >= args.size()) throw InputError("trial-exec: " + flag + " needs a value");
    const std::string& value = args[++i];
    if (flag == "--config-json") {
      q.config_json = value;
      have_config = true;
    } else if (flag == "--out") {
      q.out_dir = value;
      have_out = true;
    } else if (flag == "--attempt") {
      q.attempt = numeric_argument<int>(flag, value);
    } else if (flag == "--device") {
      q.device = value;
    } else if (flag == "--threads") {
      q.threads = numeric_argument<int>(flag, value);
    } else if (flag == "--parent-pid") {
      q.parent_pid = numeric_argument<int>(flag, value);
    } else if (flag == "--kill-grace") {
      q.kill_grace_s = numeric_argument<double>(flag, value);
    } else {
      throw InputError("trial-exec: unknown argument '" + flag +
                       "' (trial-exec is started by worker ranks; use `locsweep trial`)");
    }
  }
  if (!have_config || !have_out)
    throw InputError("trial-exec: --config-json and --out are required");
  if (q.attempt < 1 || q.threads < 0 || q.kill_grace_s < 0)
    throw InputError("trial-exec: --attempt must be >= 1, --threads and --kill-grace >= 0");
  return q;
}

fs::path trial_checkpoint_file(const fs::path& out_dir) {
  return out_dir / "checkpoint.h5";
}

fs::path attempt_config_file(const fs::path& out_dir, int number) {
  return out_dir / ("attempt-" + std::to_string(number) + ".config.json");
}

fs::path attempt_events_file(const fs::path& out_dir, int number) {
  return out_dir / ("attempt-" + std::to_string(number) + ".events.jsonl");
}

fs::path attempt_log_file(const fs::path& out_dir, int number) {
  return out_dir / ("attempt-" + std::to_string(number) + ".log");
}

namespace {

std::string time_limit_text(double timeout_s) {
  return "its time limit of " + std::to_string(static_cast<int>(timeout_s)) + " s";
}

// The child said how it ended; a preemption that was the rank's SIGTERM at the time limit is
// a timeout (it checkpointed, and resumes from there if retried).
json reported_result(const ChildEnd& end) {
  json r = *end.result;
  if (!end.timed_out || r.value("outcome", "") != to_string(Outcome::preempted)) return r;
  r["outcome"] = to_string(Outcome::timeout);
  r["message"] = "stopped at " + time_limit_text(end.timeout_s) +
                 " (SIGTERM); checkpointed at step " + std::to_string(r.value("steps_done", 0)) +
                 ", resumes from there";
  return r;
}

TrialResult unreported_result(const ChildEnd& end) {
  const ExitStatus& s = end.status;
  TrialResult r;
  if (end.timed_out && s.killed_by_us) {
    r.outcome = Outcome::timeout;
    r.message = "killed after " + time_limit_text(end.timeout_s) + ": still running " +
                std::to_string(static_cast<int>(end.kill_grace_s)) +
                " s (execution.kill_grace_s) after SIGTERM; resumes from its last checkpoint";
  } else if (end.timed_out) {
    r.outcome = Outcome::timeout;
    r.message = "stopped at " + time_limit_text(end.timeout_s) + " (SIGTERM), ended with " +
                s.describe() + " before reporting; resumes from its last checkpoint";
  } else if (!s.signaled && s.code == kChildExitNoResult && end.no_space) {
    r.outcome = Outcome::disk_full;
    r.message = end.disk_full_description + ": the trial process could not write its result";
  } else if (s.signaled && (s.signal == SIGTERM || s.signal == SIGINT)) {
    r.outcome = Outcome::preempted;
    r.message = "ended by " + s.describe() + " before reporting";
  } else if (s.signaled && s.signal == SIGKILL) {
    r.outcome = end.stopping ? Outcome::preempted : Outcome::crash;
    r.message = "killed by SIGKILL (the kernel's out-of-memory killer, or by hand)";
  } else {
    r.outcome = Outcome::crash;
    r.message = "trial process ended with " + s.describe() + " without a result";
  }
  if (!end.log_tail.empty()) r.message += "; its log ends: " + end.log_tail;
  return r;
}

}  // namespace

json classify_child_end(const ChildEnd& end) {
  return end.result ? reported_result(end) : to_json(unreported_result(end));
}

}  // namespace locsweep
