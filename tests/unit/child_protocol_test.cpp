// The trial protocol (trial/child_protocol.hpp, trial/trial_child.hpp): the argv a rank builds
// is the one the child parses; how an attempt's end becomes its result, row by row; and the
// child side's result line for each way a trial can end (run in a forked child, its stdout a
// file, as a rank would see it).
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fcntl.h>

#include <fstream>
#include <new>
#include <optional>
#include <stdexcept>

#include "common/error.hpp"
#include "common/files.hpp"
#include "support/temp_dir.hpp"
#include "sweeps/trial_config.hpp"
#include "trial/child_protocol.hpp"
#include "trial/trial_child.hpp"

namespace locsweep {
namespace {
using nlohmann::json;
using test_support::ScopedEnv;
using test_support::TempDir;

TEST(ChildProtocol, ArgvRoundTrips) {
  ChildRequest q;
  q.config_json = "/tmp/t/attempt-3.config.json";
  q.out_dir = "/tmp/t";
  q.resume = true;
  q.attempt = 3;
  q.device = "cuda:1";
  q.threads = 4;
  q.parent_pid = 4242;
  q.kill_grace_s = 12.5;
  for (bool resume : {true, false}) {
    q.resume = resume;
    const auto argv = child_argv("/opt/locsweep-trainer", q);
    ASSERT_GE(argv.size(), 2u);
    EXPECT_EQ(argv[0], "/opt/locsweep-trainer");
    EXPECT_EQ(argv[1], "trial-exec");
    const ChildRequest back = parse_child_argv({argv.begin() + 2, argv.end()});
    EXPECT_EQ(back.config_json, q.config_json);
    EXPECT_EQ(back.out_dir, q.out_dir);
    EXPECT_EQ(back.resume, resume);
    EXPECT_EQ(back.attempt, 3);
    EXPECT_EQ(back.device, "cuda:1");
    EXPECT_EQ(back.threads, 4);
    EXPECT_EQ(back.parent_pid, 4242);
    EXPECT_DOUBLE_EQ(back.kill_grace_s, 12.5);
  }
}

struct BadArgv {
  std::vector<std::string> args;
  const char* says;
};
const BadArgv bad_argv[] = {
    {{"--out", "/tmp/t"}, "--config-json and --out are required"},
    {{"--config-json", "c.json"}, "--config-json and --out are required"},
    {{"--config-json", "c.json", "--out", "/t", "--attempt", "x"}, "--attempt wants an integer"},
    {{"--config-json", "c.json", "--out", "/t", "--attempt", "2x"}, "--attempt wants an integer"},
    {{"--config-json", "c.json", "--out", "/t", "--kill-grace", "soon"},
     "--kill-grace wants a number"},
    {{"--config-json", "c.json", "--out", "/t", "--attempt", "0"}, "--attempt must be >= 1"},
    {{"--config-json", "c.json", "--out"}, "--out needs a value"},
    {{"--config-json", "c.json", "--out", "/t", "--bogus", "1"}, "unknown argument '--bogus'"},
};

TEST(ChildProtocol, BadArgvIsOneClearInputError) {
  for (const auto& row : bad_argv) {
    try {
      parse_child_argv(row.args);
      ADD_FAILURE() << "accepted: " << row.says;
    } catch (const InputError& e) {
      EXPECT_NE(std::string(e.what()).find(row.says), std::string::npos) << e.what();
    }
  }
}

TEST(ChildProtocol, AttemptFilesAreNamedByNumber) {
  EXPECT_EQ(attempt_config_file("/d", 2), "/d/attempt-2.config.json");
  EXPECT_EQ(attempt_events_file("/d", 2), "/d/attempt-2.events.jsonl");
  EXPECT_EQ(attempt_log_file("/d", 2), "/d/attempt-2.log");
}

ExitStatus exited(int code) {
  ExitStatus s;
  s.code = code;
  return s;
}
ExitStatus killed(int signal, bool by_us = false) {
  ExitStatus s;
  s.signaled = true;
  s.signal = signal;
  s.killed_by_us = by_us;
  return s;
}
json reported(Outcome outcome, int steps = 7) {
  TrialResult r;
  r.outcome = outcome;
  r.steps_done = steps;
  r.message = outcome == Outcome::done ? "" : "its own words";
  return to_json(r);
}

// One row per way an attempt can end: what the rank knows, and the outcome it records.
struct EndCase {
  const char* name;
  std::optional<json> result;
  ExitStatus status;
  bool timed_out, stopping, no_space;
  Outcome expected;
  const char* message_has;
};
const EndCase end_cases[] = {
    {"reported done", reported(Outcome::done), exited(0), false, false, false, Outcome::done, ""},
    {"reported nan", reported(Outcome::nan), exited(0), false, false, false, Outcome::nan,
     "its own words"},
    {"preempted by a stop", reported(Outcome::preempted), exited(0), false, true, false,
     Outcome::preempted, "its own words"},
    {"preempted at its time limit", reported(Outcome::preempted, 40), exited(0), true, false, false,
     Outcome::timeout, "checkpointed at step 40"},
    {"done although the limit passed", reported(Outcome::done), exited(0), true, false, false,
     Outcome::done, ""},
    {"killed at the limit", std::nullopt, killed(SIGKILL, true), true, false, false,
     Outcome::timeout, "execution.kill_grace_s"},
    {"died after SIGTERM at the limit", std::nullopt, killed(SIGSEGV), true, false, false,
     Outcome::timeout, "signal SIGSEGV"},
    {"no result, disk full", std::nullopt, exited(kChildExitNoResult), false, false, true,
     Outcome::disk_full, "could not write its result"},
    {"exit 74 with room on the disk", std::nullopt, exited(kChildExitNoResult), false, false, false,
     Outcome::crash, "exit code 74"},
    {"SIGTERM before reporting", std::nullopt, killed(SIGTERM), false, false, false,
     Outcome::preempted, "signal SIGTERM"},
    {"SIGINT before reporting", std::nullopt, killed(SIGINT), false, false, false,
     Outcome::preempted, "signal SIGINT"},
    {"SIGKILL while stopping", std::nullopt, killed(SIGKILL), false, true, false,
     Outcome::preempted, "SIGKILL"},
    {"SIGKILL from outside", std::nullopt, killed(SIGKILL), false, false, false, Outcome::crash,
     "out-of-memory killer"},
    {"segfault", std::nullopt, killed(SIGSEGV), false, false, false, Outcome::crash,
     "signal SIGSEGV"},
    {"exit 1 without a result", std::nullopt, exited(1), false, false, false, Outcome::crash,
     "exit code 1 without a result"},
};

TEST(ChildProtocol, EveryEndIsClassified) {
  for (const auto& row : end_cases) {
    ChildEnd end;
    end.result = row.result;
    end.status = row.status;
    end.timed_out = row.timed_out;
    end.stopping = row.stopping;
    end.no_space = row.no_space;
    end.timeout_s = 30;
    end.kill_grace_s = 5;
    end.disk_full_description = "the disk of /d is full";
    end.log_tail = row.result ? "" : "last words";
    const TrialResult r = trial_result_from_json(classify_child_end(end));
    EXPECT_EQ(r.outcome, row.expected) << row.name;
    EXPECT_NE(r.message.find(row.message_has), std::string::npos) << row.name << ": " << r.message;
    if (!row.result) EXPECT_NE(r.message.find("last words"), std::string::npos) << row.name;
  }
}

// Runs run_trial_child in a forked child with stdout on a file, for the config at
// `config_json` (default: a noop trial written there); returns its exit status and the last
// JSON line it wrote.
std::pair<int, json> run_child(const TempDir& dir, const TrialRunner& runner,
                               std::optional<std::filesystem::path> config_json = std::nullopt) {
  ChildRequest q;
  if (config_json) {
    q.config_json = *config_json;
  } else {
    TrialConfig config;
    config.kind = TrialKind::noop;
    q.config_json = dir / "c.json";
    write_file_atomic(q.config_json, to_json(config).dump());
  }
  q.out_dir = dir / "out";
  std::filesystem::create_directories(q.out_dir);
  const std::string events = (dir / "events.jsonl").string();
  std::fflush(nullptr);  // or the child writes what this process had buffered into its file
  const pid_t pid = ::fork();
  if (pid == 0) {
    const int fd = ::open(events.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    ::dup2(fd, STDOUT_FILENO);
    std::_Exit(run_trial_child(q, runner));
  }
  int status = 0;
  ::waitpid(pid, &status, 0);
  std::ifstream in(events);
  json last;
  for (std::string line; std::getline(in, line);) last = json::parse(line);
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, last};
}

TEST(TrialChild, WritesTheResultAsItsLastLine) {
  struct Case {
    const char* name;
    TrialRunner runner;
    Outcome expected;
  };
  const Case cases[] = {
      {"done",
       [](const TrialConfig&, const TrialRunOptions& o) {
         TrialResult r;
         r.steps_done = o.attempt;
         return r;
       },
       Outcome::done},
      {"bad_alloc is oom",
       [](const TrialConfig&, const TrialRunOptions&) -> TrialResult { throw std::bad_alloc(); },
       Outcome::oom},
      {"an exception is an error",
       [](const TrialConfig&, const TrialRunOptions&) -> TrialResult {
         throw std::runtime_error("broken");
       },
       Outcome::error},
  };
  for (const auto& c : cases) {
    TempDir dir("child-protocol");
    const auto [code, last] = run_child(dir, c.runner);
    EXPECT_EQ(code, 0) << c.name;
    ASSERT_TRUE(last.is_object()) << c.name;
    EXPECT_EQ(last.value("event", ""), kEventResult) << c.name;
    json result = last;
    result.erase("event");
    EXPECT_EQ(trial_result_from_json(result).outcome, c.expected) << c.name;
  }
}

TEST(TrialChild, AnUnreadableConfigIsAnErrorResult) {
  TempDir dir("child-protocol");
  const auto [code, last] = run_child(
      dir, [](const TrialConfig&, const TrialRunOptions&) { return TrialResult{}; },
      dir / "missing.json");
  EXPECT_EQ(code, 0);
  EXPECT_EQ(last.value("outcome", ""), "error");
  EXPECT_NE(last.value("message", "").find("missing.json"), std::string::npos);
}

TEST(ChildProtocol, TrainerIsFoundOrNamedClearly) {
  {
    ScopedEnv env("LOCSWEEP_TRAINER", "/bin/true");
    EXPECT_EQ(trainer_executable(), "/bin/true");
  }
  {
    ScopedEnv env("LOCSWEEP_TRAINER", "/nonexistent/locsweep-trainer");
    try {
      trainer_executable();
      ADD_FAILURE() << "a missing trainer was accepted";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find("not an executable"), std::string::npos) << e.what();
    }
  }
}

TEST(ChildProtocol, ProbeAnswerIsChecked) {
  TrainerInfo info;
  info.blas = "OpenBLAS";
  info.cuda_devices = 2;
  info.versions = {{"torch", "2.6.0"}};
  const TrainerInfo back = trainer_info_from_json(to_json(info));
  EXPECT_EQ(back.blas, "OpenBLAS");
  EXPECT_EQ(back.cuda_devices, 2);
  EXPECT_EQ(back.versions, info.versions);
  EXPECT_THROW(trainer_info_from_json(json{{"blas", 1}}), InputError);
}

}  // namespace
}  // namespace locsweep
