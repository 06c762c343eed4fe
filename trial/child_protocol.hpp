// The trial protocol: how a worker rank runs one attempt of a trial in a child process of the
// trainer binary (`locsweep-trainer trial-exec`), and how that attempt's end becomes its
// result. Both sides live here, so the argv, the exit codes and the result lines cannot drift:
//
//   rank (orchestrator/rank_agent.cpp)              child (trial/trial_child.cpp)
//   writes attempt-N.config.json                    reads it
//   child_argv(request) -> posix_spawn              parse_child_argv(args) -> ChildRequest
//   tails attempt-N.events.jsonl (its stdout)       progress events, one JSON line each, the
//                                                   last one {"event":"result", TrialResult}
//   classify_child_end(end) -> TrialResult          exits 0, or kChildExitNoResult when it
//                                                   could not write the result line
//
// The child's stdout is the protocol channel: everything else it says goes to stderr (the
// attempt's log file).
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "common/process.hpp"
#include "trial/trial_result.hpp"

namespace locsweep {

// The trainer binary: $LOCSWEEP_TRAINER if set, else `locsweep-trainer` next to the running
// executable. Throws Error (what is missing, how to build it) if it is not there.
std::filesystem::path trainer_executable();

// What the trainer computes with (`locsweep-trainer probe`): for start-up lines, the ranks'
// device assignment and the reproducibility manifests.
struct TrainerInfo {
  std::string blas;         // "OpenBLAS 0.3.21 ... (core SkylakeX)" or a slow-BLAS warning
  int cuda_devices = 0;     // GPUs the trainer's libtorch sees (0 with Debian's CPU build)
  nlohmann::json versions;  // {"torch", "blas", "hdf5", "compiler"}
};
nlohmann::json to_json(const TrainerInfo& info);
TrainerInfo trainer_info_from_json(const nlohmann::json& json);  // throws InputError
// Runs `TRAINER probe` (~0.5 s: the trainer loads libtorch). Throws Error when it fails.
TrainerInfo probe_trainer(const std::filesystem::path& trainer);

// One attempt, as the rank asks for it.
struct ChildRequest {
  std::filesystem::path config_json;  // the TrialConfig as JSON (attempt-N.config.json)
  std::filesystem::path out_dir;      // the trial's folder
  bool resume = true;                 // continue from a valid checkpoint if there is one
  int attempt = 1;                    // attempt number, from 1
  std::string device = "cpu";
  int threads = 1;
  int parent_pid = 0;        // the rank: the child checkpoints and ends when it dies
  double kill_grace_s = 60;  // from the rank's death (SIGTERM: checkpoint) to SIGKILL
};
// The argv that starts `request` with `trainer`.
std::vector<std::string> child_argv(const std::filesystem::path& trainer,
                                    const ChildRequest& request);
// The request back from the arguments after `trial-exec`. Throws InputError on anything else.
ChildRequest parse_child_argv(const std::vector<std::string>& args);

// A trial's checkpoint in its folder: the latest, and once the trial is done its final
// weights (what a staged sweep's dependents start from).
std::filesystem::path trial_checkpoint_file(const std::filesystem::path& out_dir);

// The attempt-N.* files of a trial's folder.
std::filesystem::path attempt_config_file(const std::filesystem::path& out_dir, int number);
std::filesystem::path attempt_events_file(const std::filesystem::path& out_dir, int number);
std::filesystem::path attempt_log_file(const std::filesystem::path& out_dir, int number);

// Exit status of a child that could not write its result line (its folder's disk is full,
// typically): the rank then classifies the attempt from the folder's free space.
inline constexpr int kChildExitNoResult = 74;

// Progress event names (trial/progress.hpp) the rank acts on.
inline constexpr const char* kEventStart = "start";
inline constexpr const char* kEventStep = "step";
inline constexpr const char* kEventEval = "eval";
inline constexpr const char* kEventResult = "result";

// What a rank knows when an attempt's child has ended.
struct ChildEnd {
  std::optional<nlohmann::json> result;  // the child's result line, if it wrote one
  ExitStatus status;
  bool timed_out = false;  // the rank sent SIGTERM at the attempt's time limit
  bool stopping = false;   // the rank was stopping (preemption of the job)
  double timeout_s = 0;
  double kill_grace_s = 0;
  bool no_space = false;              // the trial's folder has no free space
  std::string disk_full_description;  // describe_disk_full of the folder, when no_space
  std::string log_tail;               // the last lines of the child's stderr
};
// The attempt's result: the child's own when it wrote one (a preemption at the time limit
// becomes a timeout), else classified from how it ended. One table, tested row by row
// (tests/unit/child_protocol_test.cpp).
nlohmann::json classify_child_end(const ChildEnd& end);

}  // namespace locsweep
