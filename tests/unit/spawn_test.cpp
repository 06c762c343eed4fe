// The one process spawner (common/spawn.hpp) on its own: redirections, process groups, the
// child's signal mask and defaults, the environment, and programs that do not exist.
#include "common/spawn.hpp"

#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <cstdint>
#include <fstream>
#include <sstream>
#include <string>

#include "common/fd.hpp"
#include "support/temp_dir.hpp"

namespace locsweep {
namespace {

using test_support::TempDir;

std::string read_all(const std::filesystem::path& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// Runs argv to its end with stdout appended to `out`; returns its exit status.
ExitStatus run_to(const std::vector<std::string>& argv, const std::filesystem::path& out,
                  SpawnOptions options = {}) {
  options.out = Redirect::append_to(out);
  auto child = ChildProcess::spawn(argv, options);
  EXPECT_TRUE(child.has_value()) << argv[0];
  return child ? child->wait() : ExitStatus{};
}

// A signal mask line of /proc/<pid>/status ("SigBlk", "SigIgn"), as a bit set.
uint64_t mask_of(const std::string& status, const std::string& field) {
  const size_t at = status.find(field + ":");
  if (at == std::string::npos) return 0;
  return std::stoull(status.substr(at + field.size() + 1), nullptr, 16);
}

bool has(uint64_t mask, int sig) {
  return (mask >> (sig - 1)) & 1u;
}

TEST(Spawn, RedirectsStdinAndStdoutToFiles) {
  TempDir dir;
  std::ofstream(dir / "in.txt") << "hello spawn\n";
  std::ofstream(dir / "out.txt") << "kept\n";  // appended to, not truncated
  SpawnOptions options;
  options.in = Redirect::read_from(dir / "in.txt");
  const ExitStatus s = run_to({"/bin/cat"}, dir / "out.txt", options);
  EXPECT_FALSE(s.signaled);
  EXPECT_EQ(s.code, 0);
  EXPECT_EQ(read_all(dir / "out.txt"), "kept\nhello spawn\n");
}

TEST(Spawn, RedirectsStderrToAPipeAndStdinToDevNull) {
  int fds[2];
  ASSERT_EQ(::pipe(fds), 0);
  Fd read_end(fds[0]), write_end(fds[1]);
  SpawnOptions options;
  options.in = Redirect::null();
  options.err = Redirect::to_fd(write_end.get());
  auto child = ChildProcess::spawn({"/bin/sh", "-c", "cat; echo oops >&2; exit 3"}, options);
  ASSERT_TRUE(child.has_value());
  write_end.reset();
  const ExitStatus s = child->wait();  // cat ends at once: stdin is /dev/null
  EXPECT_EQ(s.code, 3);
  EXPECT_EQ(s.shell_code(), 3);
  char buffer[64] = {};
  EXPECT_EQ(::read(read_end.get(), buffer, sizeof buffer - 1), 5);
  EXPECT_STREQ(buffer, "oops\n");
}

TEST(Spawn, SearchesPathOnlyWhenAsked) {
  TempDir dir;
  EXPECT_EQ(run_to({"echo", "on path"}, dir / "out.txt",
                   [] {
                     SpawnOptions o;
                     o.search_path = true;
                     return o;
                   }())
                .code,
            0);
  EXPECT_EQ(read_all(dir / "out.txt"), "on path\n");
  EXPECT_FALSE(ChildProcess::spawn({"echo", "x"}).has_value());  // not a path, no search
}

TEST(Spawn, AProgramThatDoesNotExistIsNothingNotAnError) {
  SpawnOptions on_path;
  on_path.search_path = true;
  EXPECT_FALSE(ChildProcess::spawn({"locsweep-no-such-program"}, on_path).has_value());
  EXPECT_FALSE(ChildProcess::spawn({"/nonexistent/locsweep-no-such-program"}).has_value());
}

TEST(Spawn, OwnProcessGroupAndSignalsReachIt) {
  SpawnOptions options;
  options.own_process_group = true;
  auto child = ChildProcess::spawn({"/bin/sleep", "60"}, options);
  ASSERT_TRUE(child.has_value());
  EXPECT_EQ(::getpgid(child->pid()), child->pid());
  EXPECT_NE(::getpgid(child->pid()), ::getpgrp());
  EXPECT_FALSE(child->poll().has_value());  // still running
  child->signal(SIGKILL, true);
  const ExitStatus s = child->wait();
  EXPECT_TRUE(s.signaled);
  EXPECT_EQ(s.signal, SIGKILL);
  EXPECT_TRUE(s.killed_by_us);
  EXPECT_EQ(s.shell_code(), 128 + SIGKILL);
  EXPECT_EQ(s.describe(), "signal SIGKILL");
}

TEST(Spawn, WithoutOwnGroupTheChildSharesOurs) {
  auto child = ChildProcess::spawn({"/bin/sleep", "60"});
  ASSERT_TRUE(child.has_value());
  EXPECT_EQ(::getpgid(child->pid()), ::getpgrp());
  child->signal(SIGTERM);
  const ExitStatus s = child->wait();
  EXPECT_TRUE(s.signaled);
  EXPECT_EQ(s.signal, SIGTERM);
  EXPECT_FALSE(s.killed_by_us);
}

TEST(Spawn, BlockedSignalsAreBlockedInTheChild) {
  TempDir dir;
  SpawnOptions options;
  options.blocked_signals = std::vector<int>{SIGTERM, SIGUSR1};
  run_to({"/bin/cat", "/proc/self/status"}, dir / "status", options);
  const uint64_t blocked = mask_of(read_all(dir / "status"), "SigBlk");
  EXPECT_TRUE(has(blocked, SIGTERM));
  EXPECT_TRUE(has(blocked, SIGUSR1));
  EXPECT_FALSE(has(blocked, SIGINT));
}

TEST(Spawn, ABlockedSignalStaysPendingInsteadOfKilling) {
  SpawnOptions options;
  options.blocked_signals = std::vector<int>{SIGTERM};
  auto child = ChildProcess::spawn({"/bin/sleep", "1"}, options);
  ASSERT_TRUE(child.has_value());
  child->signal(SIGTERM);
  const ExitStatus s = child->wait();  // sleep ends by itself: SIGTERM never delivered
  EXPECT_FALSE(s.signaled) << s.describe();
  EXPECT_EQ(s.code, 0);
}

TEST(Spawn, DefaultSignalsUndoWhatTheParentIgnores) {
  TempDir dir;
  struct sigaction ignore {
  }, old{};
  ignore.sa_handler = SIG_IGN;
  ASSERT_EQ(::sigaction(SIGUSR2, &ignore, &old), 0);
  run_to({"/bin/cat", "/proc/self/status"}, dir / "inherited", {});
  SpawnOptions options;
  options.default_signals = {SIGUSR2};
  run_to({"/bin/cat", "/proc/self/status"}, dir / "defaulted", options);
  ::sigaction(SIGUSR2, &old, nullptr);
  EXPECT_TRUE(has(mask_of(read_all(dir / "inherited"), "SigIgn"), SIGUSR2));
  EXPECT_FALSE(has(mask_of(read_all(dir / "defaulted"), "SigIgn"), SIGUSR2));
}

TEST(Spawn, EnvironmentOverridesAddToTheParents) {
  TempDir dir;
  test_support::ScopedEnv keep("LOCSWEEP_SPAWN_KEPT", "parent");
  test_support::ScopedEnv replaced("LOCSWEEP_SPAWN_SET", "old");
  SpawnOptions options;
  options.environment = {{"LOCSWEEP_SPAWN_SET", "new"}, {"LOCSWEEP_SPAWN_ADDED", "added"}};
  run_to({"/bin/sh", "-c", "echo $LOCSWEEP_SPAWN_KEPT $LOCSWEEP_SPAWN_SET $LOCSWEEP_SPAWN_ADDED"},
         dir / "out.txt", options);
  EXPECT_EQ(read_all(dir / "out.txt"), "parent new added\n");
}

TEST(Spawn, DestructionKillsAndReapsARunningChild) {
  pid_t pid = -1;
  {
    SpawnOptions options;
    options.own_process_group = true;
    auto child = ChildProcess::spawn({"/bin/sleep", "60"}, options);
    ASSERT_TRUE(child.has_value());
    pid = child->pid();
  }
  EXPECT_EQ(::kill(pid, 0), -1);  // gone and reaped: no zombie left
  EXPECT_EQ(errno, ESRCH);
}

}  // namespace
}  // namespace locsweep
