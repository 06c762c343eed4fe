// The pieces that keep trial processes honest under faults: the folder lock (one process per
// trial folder, released by the kernel however the holder ends), the disk-full test, the
// disk_full outcome's text form, and the results store's preemption streaks (interrupted
// attempts in a row since the last done/failed one) with the failure that ends one.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <filesystem>

#include "common/disk_space.hpp"
#include "common/folder_lock.hpp"
#include "results/store.hpp"
#include "support/temp_dir.hpp"
#include "sweeps/plan.hpp"
#include "sweeps/sweep_spec.hpp"
#include "trial/trial_result.hpp"

namespace locsweep {
namespace {
using test_support::TempDir;

// Forks a child that takes the lock on `dir`, reports through a pipe, and waits to be killed.
pid_t child_holding_lock(const std::filesystem::path& dir) {
  int fds[2];
  EXPECT_EQ(::pipe(fds), 0);
  const pid_t pid = ::fork();
  if (pid == 0) {
    ::close(fds[0]);
    const FolderLock lock = FolderLock::acquire(dir, 0);
    (void)!::write(fds[1], "x", 1);
    for (;;) ::pause();
  }
  ::close(fds[1]);
  char c = 0;
  EXPECT_EQ(::read(fds[0], &c, 1), 1);
  ::close(fds[0]);
  return pid;
}

TEST(FolderLock, SecondHolderIsRefusedUntilTheFirstDiesEvenByKill9) {
  TempDir dir;
  const pid_t holder = child_holding_lock(dir.path());
  EXPECT_EQ(folder_lock_holder(dir.path()), holder);
  try {
    (void)FolderLock::acquire(dir.path(), 0.2);
    FAIL() << "a held folder was taken";
  } catch (const FolderBusyError& e) {
    EXPECT_NE(std::string(e.what()).find("pid " + std::to_string(holder)), std::string::npos)
        << e.what();
  }
  ::kill(holder, SIGKILL);
  ::waitpid(holder, nullptr, 0);
  pid_t waited_for = 0;
  EXPECT_NO_THROW((void)FolderLock::acquire(dir.path(), 5, [&](pid_t p) { waited_for = p; }));
  EXPECT_EQ(waited_for, 0) << "the lock of a dead holder is free at once";
}

TEST(FolderLock, WaitsForAHolderThatEndsWithinTheWait) {
  TempDir dir;
  const pid_t holder = child_holding_lock(dir.path());
  const pid_t killer = ::fork();
  if (killer == 0) {
    ::usleep(300000);
    ::kill(holder, SIGKILL);
    ::_exit(0);
  }
  pid_t waited_for = 0;
  EXPECT_NO_THROW((void)FolderLock::acquire(dir.path(), 30, [&](pid_t p) { waited_for = p; }));
  EXPECT_EQ(waited_for, holder);
  ::waitpid(holder, nullptr, 0);
  ::waitpid(killer, nullptr, 0);
}

TEST(DiskSpace, FullWhenErrnoSaysSoOrTheWriteNeedsMoreThanIsFree) {
  TempDir dir;
  EXPECT_TRUE(is_disk_full(dir.path(), 0, ENOSPC));
  EXPECT_TRUE(is_disk_full(dir.path(), 0, EDQUOT));
  EXPECT_FALSE(is_disk_full(dir.path(), 0, EIO)) << "another failure with room left";
  EXPECT_TRUE(is_disk_full(dir.path(), UINT64_MAX, EIO)) << "no file system has that much free";
  EXPECT_TRUE(free_bytes(dir.path() / "not" / "yet").has_value()) << "the nearest existing folder";
  EXPECT_EQ(describe_disk_full(dir.path()).rfind("disk full at " + dir.path().string() + " (", 0),
            0u);
  EXPECT_EQ(outcome_from_string("disk_full"), Outcome::disk_full);
  EXPECT_EQ(to_string(Outcome::disk_full), "disk_full");
  EXPECT_FALSE(is_retryable(Outcome::disk_full)) << "resumed, not retried";
}

struct StoreFixture {
  TempDir dir;
  ResultsStore store;
  std::string hash;
  int64_t run_id;
  int number = 0;
  StoreFixture() : store(ResultsStore::open_for_writing((dir.path() / "r.sqlite").string())) {
    const SweepSpec spec = parse_sweep("name: s\nkind: noop\n", "test.yaml", ".");
    const auto sync =
        store.sync_sweep(spec, plan_sweep(spec), (dir.path() / "art").string(), false);
    hash = store.sweep_trials(sync.sweep_id).at(0).hash;
    RunInfo info;
    info.host = "node-a";
    info.pid = 1;
    run_id = store.begin_run(sync.sweep_id, info, 30);
  }
  void attempt(Outcome outcome, TrialStatus next) {
    const int64_t id = store.start_attempt(hash, ++number, run_id, AttemptStart{});
    TrialResult r;
    r.outcome = outcome;
    store.finish_attempt(id, hash, r, next, 0);
  }
  int streak() {
    const auto s = store.preemption_streaks();
    const auto it = s.find(hash);
    return it == s.end() ? 0 : it->second;
  }
};

TEST(PreemptionStreaks, CountInterruptionsInARowSinceTheLastDoneOrFailedAttempt) {
  StoreFixture f;
  EXPECT_EQ(f.streak(), 0);
  f.attempt(Outcome::preempted, TrialStatus::pending);
  f.attempt(Outcome::preempted, TrialStatus::pending);
  EXPECT_EQ(f.streak(), 2);
  f.attempt(Outcome::disk_full, TrialStatus::pending);
  EXPECT_EQ(f.streak(), 2) << "a full disk neither counts nor ends a streak";
  f.attempt(Outcome::crash, TrialStatus::pending);
  EXPECT_EQ(f.streak(), 0) << "a failed attempt ends it";
  f.attempt(Outcome::preempted, TrialStatus::pending);
  EXPECT_EQ(f.streak(), 1);

  f.store.fail_preempted_trial(f.hash, "interrupted too often");
  auto row = f.store.db().prepare(
      "SELECT t.status || ' ' || t.outcome || ' ' || t.message || ' ' || (t.finished_at IS NOT "
      "NULL) || ' ' || a.status || ' ' || a.message FROM trials t JOIN attempts a ON "
      "a.trial_hash = t.hash AND a.number = 5");
  ASSERT_TRUE(row.step());
  EXPECT_EQ(row.text(0), "failed preempted interrupted too often 1 failed interrupted too often");
  EXPECT_EQ(f.streak(), 0) << "a failed trial is not open; after --retry-failed it starts afresh";
}

TEST(PreemptionStreaks, APreemptedAttemptThatFailsTheTrialIsFailed) {
  StoreFixture f;
  f.attempt(Outcome::preempted, TrialStatus::failed);
  auto row = f.store.db().prepare("SELECT status FROM attempts");
  ASSERT_TRUE(row.step());
  EXPECT_EQ(row.text(0), "failed");
}

}  // namespace
}  // namespace locsweep
