// The coordinator's status snapshot (orchestrator/status_snapshot.hpp): its JSON reads back
// as written, where `status` reads progress from (table), when a snapshot is stale, and the
// writer on a real store (it writes nothing for a run that lost its lease).
#include <gtest/gtest.h>

#include <chrono>

#include "common/error.hpp"
#include "common/files.hpp"
#include "orchestrator/status_snapshot.hpp"
#include "results/schema.hpp"
#include "support/temp_dir.hpp"

namespace locsweep {
namespace {

StatusSnapshot sample(const std::string& host, const std::string& run_status) {
  StatusSnapshot s;
  s.sweep = "paper";
  s.db = "/scratch/r.sqlite";
  s.run_id = 3;
  s.run_status = run_status;
  s.host = host;
  s.pid = 4242;
  s.slurm_job_id = "77";
  s.slurm_jobs = {"76", "77"};
  s.updated_at = "2026-12-01T10:00:00.000Z";
  s.updated_unix = 1796000000.5;
  s.interval_s = 5;
  s.stale_after_s = 30;
  s.counts = {4, 1, 2, 3};
  RunningTrial r;
  r.hash = "abc";
  r.label = "block quintic seed=0";
  r.host = "node7";
  r.rank = 2;
  r.attempt = 3;
  r.step = 120;
  r.checkpoint_step = 100;
  s.running.push_back(r);
  return s;
}

TEST(StatusSnapshot, JsonReadsBackAsWritten) {
  const StatusSnapshot s = sample("node7", "running");
  const StatusSnapshot back = status_snapshot_from_json(to_json(s), "x");
  EXPECT_EQ(to_json(back), to_json(s));
  EXPECT_EQ(back.counts.total(), 10);
  EXPECT_EQ(back.running.at(0).step, 120);
  EXPECT_EQ(to_json(s)["counts"]["total"], 10);
}

TEST(StatusSnapshot, ForeignOrIncompleteJsonIsInputError) {
  EXPECT_THROW(status_snapshot_from_json(nlohmann::json::parse(R"({"a":1})"), "x"), InputError);
  nlohmann::json j = to_json(sample("n", "running"));
  j.erase("counts");
  EXPECT_THROW(status_snapshot_from_json(j, "x"), InputError);
  j = to_json(sample("n", "running"));
  j["version"] = 99;
  EXPECT_THROW(status_snapshot_from_json(j, "x"), InputError);
}

TEST(StatusSnapshot, StaleOnlyWhileRunningAndOlderThanItsLimit) {
  EXPECT_FALSE(snapshot_is_stale(sample("n", "running"), 29));
  EXPECT_TRUE(snapshot_is_stale(sample("n", "running"), 31));
  EXPECT_FALSE(snapshot_is_stale(sample("n", "complete"), 1e6));  // ended: final, not stale
}

struct SourceCase {
  const char* name;
  ProgressSource wanted;
  bool db_exists;
  const char* snapshot_host;  // nullptr: no snapshot
  const char* run_status;
  ProgressSource expected;
};

const SourceCase kSources[] = {
    {"no snapshot", ProgressSource::automatic, true, nullptr, "", ProgressSource::database},
    {"run here", ProgressSource::automatic, true, "login", "running", ProgressSource::database},
    {"run elsewhere", ProgressSource::automatic, true, "node7", "running",
     ProgressSource::snapshot},
    {"ended elsewhere", ProgressSource::automatic, true, "node7", "complete",
     ProgressSource::database},
    {"no database here", ProgressSource::automatic, false, "node7", "complete",
     ProgressSource::snapshot},
    {"neither: the open says so", ProgressSource::automatic, false, nullptr, "",
     ProgressSource::database},
    {"forced database", ProgressSource::database, true, "node7", "running",
     ProgressSource::database},
    {"forced snapshot", ProgressSource::snapshot, true, "login", "running",
     ProgressSource::snapshot},
};

TEST(StatusSnapshot, ChoosesWhereToReadProgress) {
  for (const auto& c : kSources) {
    std::optional<StatusSnapshot> s;
    if (c.snapshot_host) s = sample(c.snapshot_host, c.run_status);
    EXPECT_EQ(choose_progress_source(c.wanted, c.db_exists, s, "login"), c.expected) << c.name;
  }
  EXPECT_THROW(choose_progress_source(ProgressSource::snapshot, true, std::nullopt, "login"),
               InputError);
  EXPECT_THROW(
      choose_progress_source(ProgressSource::database, false, sample("n", "running"), "login"),
      InputError);
  EXPECT_THROW(progress_source_from_string("nfs"), InputError);
}

TEST(StatusSnapshot, ProgressOfItsOneSweep) {
  const SweepProgress p = progress_from_snapshot(sample("node7", "running"), "");
  EXPECT_EQ(p.name, "paper");
  EXPECT_EQ(p.done + p.running + p.failed + p.pending, 10);
  EXPECT_EQ(p.slurm_jobs, (std::vector<std::string>{"76", "77"}));
  EXPECT_EQ(p.running_trials.size(), 1u);
  EXPECT_THROW(progress_from_snapshot(sample("node7", "running"), "other"), InputError);
}

// The writer on a store with one running run: writes the counts and the running trial, and
// the final one with the run's end status; nothing once the run was taken over.
TEST(StatusSnapshot, WriterFollowsTheRunRow) {
  test_support::TempDir dir("snapshot_writer");
  const std::string db_path = (dir / "r.sqlite").string();
  {
    Database db(db_path, Database::Mode::read_write_create);
    ensure_schema(db, true);
    db.exec(
        "INSERT INTO sweeps(id, name, spec_yaml, created_at, updated_at) VALUES (1, 's', '', 't', "
        "'t');"
        "INSERT INTO runs(id, sweep_id, host, pid, ranks, started_at, heartbeat_at, status) "
        "VALUES (1, 1, 'h', 1, 2, 't', 't', 'running');"
        "INSERT INTO trials(hash, label, kind, seed, config_json, canonical_json, out_dir, "
        "status, attempts, last_step, created_at) VALUES ('a', 'noop seed=0', 'noop', 0, '{}', "
        "'{}', '/x', 'running', 1, 10, 't');"
        "INSERT INTO sweep_trials VALUES (1, 'a', 0, '{}');"
        "INSERT INTO attempts(trial_hash, number, run_id, worker_rank, host, status, started_at) "
        "VALUES ('a', 1, 1, 1, 'node3', 'running', 't');");
  }
  ResultsStore store = ResultsStore::open_for_writing(db_path);
  RunInfo info;
  info.host = "node3";
  info.pid = 99;
  StatusSnapshotWriter writer(store, db_path, 1, "s", 1, info, 3600);
  writer.update({0, 1, 0, 0});
  auto s = read_status_snapshot(db_path);
  ASSERT_TRUE(s);
  EXPECT_EQ(s->run_status, "running");
  EXPECT_EQ(s->counts.running, 1);
  ASSERT_EQ(s->running.size(), 1u);
  EXPECT_EQ(s->running[0].host, "node3");
  EXPECT_EQ(s->running[0].checkpoint_step, 10);
  EXPECT_LT(snapshot_age_s(*s), 60);
  const std::string first = read_file(status_snapshot_path(db_path));
  writer.update({1, 0, 0, 0});  // within interval_s: not rewritten
  EXPECT_EQ(read_file(status_snapshot_path(db_path)), first);
  store.db().exec("UPDATE runs SET status = 'complete'; UPDATE trials SET status = 'done'");
  writer.finish({1, 0, 0, 0});
  s = read_status_snapshot(db_path);
  EXPECT_EQ(s->run_status, "complete");
  EXPECT_EQ(s->counts.done, 1);
  EXPECT_TRUE(s->running.empty());
  const std::string final_text = read_file(status_snapshot_path(db_path));
  store.db().exec("UPDATE runs SET status = 'crashed'");  // another run took over
  writer.finish({0, 0, 0, 1});
  EXPECT_EQ(read_file(status_snapshot_path(db_path)), final_text);
}

}  // namespace
}  // namespace locsweep
