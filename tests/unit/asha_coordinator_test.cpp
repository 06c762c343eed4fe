// Early stopping (ASHA) in the coordinator, in process: a noop sweep whose workers are a
// scripted transport that honours execution.stop_at_step (an attempt asked to stop at S ends
// with outcome rung at S, its validation loss there a known function of the trial), on fake
// time. Checked against the real SQLite store: who is promoted (resuming from its rung), who
// is stopped (status stopped, not failed, with its rung), who finishes; a run stopped in the
// middle and run again ends the same, from ASHA's state rebuilt from the database. Also the
// early_stopping: block's errors and the schema 3 -> 4 upgrade (status stopped).
#include <gtest/gtest.h>
#include <sqlite3.h>
#include <unistd.h>

#include <atomic>
#include <deque>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "orchestrator/coordinator.hpp"
#include "results/queries.hpp"
#include "results/schema.hpp"
#include "support/fake_transport.hpp"
#include "support/sql_rows.hpp"
#include "support/temp_dir.hpp"
#include "sweeps/plan.hpp"
#include "sweeps/spec_error.hpp"

namespace locsweep {
namespace {

using test_support::FakeClock;
using test_support::sql_rows;
using test_support::TempDir;

// The trials' quality: noop.duration_s d; the validation loss at step s is d + 10 / s, so the
// trials rank the same at every rung (smaller d is better).
const std::vector<double> kDurations = {0.6, 0.1, 0.5, 0.2, 0.4, 0.3};
constexpr int kSteps = 60;

double loss_at(double d, int step) {
  return d + 10.0 / step;
}

// Workers that train by the book: an attempt resumes from the trial's last rung, reports a
// validation point and a checkpoint at the step it stops at (its stop_at_step, or train.steps),
// and ends rung there (or done at train.steps), 1 fake second after its assignment. A stop
// interrupts the running attempt (preempted, nothing new recorded).
class RungWorkers : public Transport {
 public:
  RungWorkers(FakeClock& clock, int workers) : clock_(clock), busy_(workers, -1) {
    for (int w = 0; w < workers; ++w) {
      protocol::Ready ready;
      ready.host = "fake";
      ready.pid = 100 + w;
      ready.device = "cpu";
      ready.threads = 1;
      deliver(w, 0, protocol::to_json(ready));
    }
  }
  int worker_count() const override { return static_cast<int>(busy_.size()); }
  void send(int w, const nlohmann::json& message) override {
    std::visit(protocol::overloaded{[&](const protocol::Assign& a) { on_assign(w, a); },
                                    [&](const protocol::Stop&) { on_stop(w); },
                                    [&](const protocol::Shutdown&) { bye(w); },
                                    [&](const protocol::Abandon&) {}},
               protocol::decode_from_coordinator(message));
  }
  std::optional<std::pair<int, nlohmann::json>> receive(int timeout_us) override {
    for (auto it = queue_.begin(); it != queue_.end(); ++it)
      if (it->due <= clock_.seconds()) {
        auto out = std::make_pair(it->worker, it->message);
        if (out.second.at("type") == protocol::Finished::kType) {
          busy_[static_cast<size_t>(it->worker)] = -1;
          const auto& r = out.second.at("result");
          const auto ends = ends_.find(out.second.at("attempt_id").get<int64_t>());
          if (ends != ends_.end() && r.value("outcome", "") != "preempted")
            rung_step[ends->second.first] = ends->second.second;
        }
        queue_.erase(it);
        return out;
      }
    if (timeout_us > 0) clock_.advance(0.05);
    if (clock_.seconds() > 3600) throw std::runtime_error("scenario still running after an hour");
    return std::nullopt;
  }
  void abort_all(int) override {}
  void give_up_on(int) override {}
  int lost_workers() const override { return 0; }

  struct Sent {
    int position;  // the trial's noop.duration_s index in kDurations
    int stop_at;   // its execution.stop_at_step (0: none)
  };
  std::vector<Sent> assigned;
  std::map<std::string, int> rung_step;  // per trial hash: the step it last stopped at

 private:
  struct Queued {
    double due;
    int worker;
    nlohmann::json message;
  };
  void deliver(int w, double after_s, nlohmann::json m) {
    queue_.push_back({clock_.seconds() + after_s, w, std::move(m)});
  }
  void on_assign(int w, const protocol::Assign& a) {
    const double d = a.config.at("noop").at("duration_s").get<double>();
    const int stop_at =
        a.config.value("execution", nlohmann::json::object()).value("stop_at_step", 0);
    int position = -1;
    for (size_t i = 0; i < kDurations.size(); ++i)
      if (kDurations[i] == d) position = static_cast<int>(i);
    assigned.push_back({position, stop_at});
    const int from = rung_step.count(a.hash) ? rung_step[a.hash] : 0;
    const int end = stop_at > 0 && stop_at < kSteps ? stop_at : kSteps;
    busy_[static_cast<size_t>(w)] = a.attempt_id;
    deliver(w, 1,
            protocol::to_json(
                protocol::Events{a.attempt_id,
                                 {{{"event", "eval"}, {"step", end}, {"val_loss", loss_at(d, end)}},
                                  {{"event", "checkpoint"}, {"step", end}}}}));
    TrialResult r;
    r.outcome = end < kSteps ? Outcome::rung : Outcome::done;
    r.resumed_from = from;
    r.steps_done = end;
    r.val_loss = loss_at(d, end);
    r.val_ppl = std::exp(r.val_loss);
    r.val_tokens = 100;
    ends_[a.attempt_id] = {a.hash, end};
    deliver(w, 1, protocol::to_json(protocol::Finished{a.attempt_id, r}));
  }
  void on_stop(int w) {
    const int64_t id = busy_[static_cast<size_t>(w)];
    if (id >= 0) {
      std::erase_if(queue_, [&](const Queued& q) { return q.worker == w; });
      TrialResult r;
      r.outcome = Outcome::preempted;
      r.message = "stopped by a signal";
      deliver(w, 0.1, protocol::to_json(protocol::Finished{id, r}));
    }
    bye(w);
  }
  void bye(int w) { deliver(w, 0.2, protocol::to_json(protocol::Bye{})); }

  FakeClock& clock_;
  std::vector<int64_t> busy_;                            // per worker: the attempt it runs, -1 idle
  std::map<int64_t, std::pair<std::string, int>> ends_;  // attempt -> trial, step it ends at
  std::deque<Queued> queue_;
};

std::string sweep_yaml(const std::string& early_stopping, const std::string& extra,
                       const std::string& execution) {
  std::string points;
  for (double d : kDurations)
    points +=
        (points.empty() ? "" : ", ") + std::string("{noop.duration_s: ") + std::to_string(d) + "}";
  return "name: asha\nkind: noop\ntrain: {steps: " + std::to_string(kSteps) + "}\n" +
         "execution: {checkpoint_every: 20" + execution + "}\npoints: [" + points + "]\n" +
         early_stopping + extra;
}

struct Sweep {
  TempDir dir{"locsweep-asha"};
  std::string db = (dir / "r.sqlite").string();
  SweepSpec spec;
  Plan plan;
  std::optional<ResultsStore> store;
  int64_t sweep_id = 0;
  FakeClock clock;
  std::atomic<bool> stop{false};
  StatusDisplay display{"asha", true};

  explicit Sweep(
      const std::string& early_stopping = "early_stopping: {rungs: [20, 40], reduction: 2}\n",
      const std::string& extra = "", const std::string& execution = "") {
    spec = parse_sweep(sweep_yaml(early_stopping, extra, execution), "<test>", dir.path().string());
    plan = plan_sweep(spec);
    store.emplace(ResultsStore::open_for_writing(db));
    sweep_id = store->sync_sweep(spec, plan, (dir / "artifacts").string(), false).sweep_id;
  }

  // One run of the sweep to its end (or to a stop at fake time stop_at_s).
  Coordinator::Ending run(RungWorkers& workers, std::optional<double> stop_at_s = {},
                          SweepCounts* counts = nullptr) {
    RunInfo info;
    info.host = "fake";
    info.pid = ::getpid();
    const int64_t run_id = store->begin_run(sweep_id, info, 30);
    CoordinatorOptions o;
    o.order = DispatchOrder::fifo;
    o.worker_silence_s = 1e9;
    o.commit_interval_s = 0;
    o.stop = &stop;
    o.early_stopping = spec.early_stopping;
    o.sweep_id = sweep_id;
    stop = false;
    const double stop_at = stop_at_s.value_or(1e18);
    o.clock = [this, stop_at] {
      if (clock.seconds() >= stop_at) stop = true;
      return clock.now();
    };
    auto open = store->open_trials(sweep_id);
    SweepCounts settled;
    settled.done = open.done;
    settled.failed = open.failed;
    settled.stopped = open.stopped;
    Coordinator c(*store, run_id, std::move(open.trials), settled, workers, display, o);
    const Coordinator::Ending ending = c.run();
    store->end_run(run_id, ending == Coordinator::Ending::complete ? "complete" : "interrupted");
    if (counts) *counts = c.counts();
    return ending;
  }

  // "status outcome steps_done" per trial, in plan order.
  std::vector<std::string> statuses() const {
    return sql_rows(db,
                    "SELECT t.status || ' ' || t.outcome || ' ' || t.steps_done FROM trials t "
                    "JOIN sweep_trials st ON st.trial_hash = t.hash ORDER BY st.position");
  }
};

// By hand, for losses d + 10/s, 1 worker, fifo, reduction 2 (promote the best floor(n/2)):
// t0 r1; t1 r1 (n=2: t1 promoted) -> t1 r2 (n=1); t2 r1; t3 r1 (n=4: t3 promoted) -> t3 r2
// (n=2: t1 promoted) -> t1 done; t4 r1; t5 r1 (n=6: t5 promoted) -> t5 r2 (n=3: still only
// t1). Nothing left: t0, t2, t4 stopped at rung 1 (step 20), t3 and t5 at rung 2 (step 40).
const std::vector<std::string> kFinal = {"stopped rung 20", "done done 60",    "stopped rung 20",
                                         "stopped rung 40", "stopped rung 20", "stopped rung 40"};

TEST(AshaCoordinator, StopsTheWorstAtTheirRungsAndPromotesTheBestFromTheirCheckpoints) {
  Sweep s;
  RungWorkers workers(s.clock, 1);
  SweepCounts counts;
  EXPECT_EQ(s.run(workers, std::nullopt, &counts), Coordinator::Ending::complete);
  EXPECT_EQ(s.statuses(), kFinal);
  // Every attempt was told where to stop: its next rung, then train.steps (0).
  std::vector<std::pair<int, int>> sent;
  for (const auto& a : workers.assigned) sent.emplace_back(a.position, a.stop_at);
  const std::vector<std::pair<int, int>> expected = {{0, 20}, {1, 20}, {1, 40}, {2, 20}, {3, 20},
                                                     {3, 40}, {1, 0},  {4, 20}, {5, 20}, {5, 40}};
  EXPECT_EQ(sent, expected);
  // A promoted attempt resumes from the rung: its resumed_from is the rung step.
  EXPECT_EQ(sql_rows(s.db,
                     "SELECT group_concat(x, ',') FROM (SELECT a.outcome || '/' || a.status || "
                     "'@' || a.resumed_from AS x FROM attempts a JOIN trials t ON t.hash = "
                     "a.trial_hash WHERE t.status = 'done' ORDER BY a.number)"),
            std::vector<std::string>{"rung/interrupted@0,rung/interrupted@20,done/done@40"});
  // Stopped, not failed: counted apart, with a message naming the rung, step and loss.
  EXPECT_EQ(counts.stopped, 5);
  EXPECT_EQ(counts.done, 1);
  EXPECT_EQ(counts.failed, 0);
  EXPECT_EQ(counts.pending + counts.running, 0);
  EXPECT_EQ(sql_rows(s.db,
                     "SELECT message FROM trials WHERE steps_done = 20 AND val_loss IS NULL "
                     "ORDER BY message LIMIT 1"),
            std::vector<std::string>{
                "stopped early at rung 1 (step 20): val loss 0.9000, not among the best 1/2 of 6"});
  auto progress = sweep_progress(s.store->db(), "asha");
  ASSERT_EQ(progress.size(), 1u);
  EXPECT_EQ(progress[0].stopped, 5);
  EXPECT_EQ(progress[0].failed, 0);
  // A rerun finds everything settled and starts nothing.
  RungWorkers again(s.clock, 1);
  EXPECT_EQ(s.run(again, std::nullopt, &counts), Coordinator::Ending::complete);
  EXPECT_TRUE(again.assigned.empty());
  EXPECT_EQ(counts.stopped, 5);
  EXPECT_EQ(s.statuses(), kFinal);
}

// Stopped at fake second 4.5 (t0, t2 parked at rung 1, t1 at rung 2, t3 interrupted on its way
// to rung 1), then run again: ASHA's state comes from the database, the parked trials are not
// retrained to their rungs, and the sweep ends as the uninterrupted run did.
TEST(AshaCoordinator, ARunStoppedInTheMiddleEndsTheSameFromTheDatabase) {
  Sweep s;
  RungWorkers first(s.clock, 1);
  EXPECT_EQ(s.run(first, 4.5), Coordinator::Ending::interrupted);
  EXPECT_EQ(first.assigned.size(), 5u);
  const std::vector<std::string> middle = {"pending rung 20", "pending rung 40", "pending rung 20",
                                           "pending preempted 0"};
  const auto now = s.statuses();
  EXPECT_EQ(std::vector<std::string>(now.begin(), now.begin() + 4), middle);
  RungWorkers second(s.clock, 1);
  second.rung_step = first.rung_step;  // the checkpoints the trials left
  EXPECT_EQ(s.run(second), Coordinator::Ending::complete);
  EXPECT_EQ(s.statuses(), kFinal);
  std::vector<std::pair<int, int>> sent;
  for (const auto& a : second.assigned) sent.emplace_back(a.position, a.stop_at);
  const std::vector<std::pair<int, int>> expected = {{3, 20}, {3, 40}, {1, 0},
                                                     {4, 20}, {5, 20}, {5, 40}};
  EXPECT_EQ(sent, expected);
}

// More workers than work at a rung: a worker never waits for a rung to fill, and the result
// is still ASHA's (every trial settles, none failed, the best finishes).
TEST(AshaCoordinator, SeveralWorkersSettleEveryTrialWithTheBestDone) {
  Sweep s;
  RungWorkers workers(s.clock, 3);
  SweepCounts counts;
  EXPECT_EQ(s.run(workers, std::nullopt, &counts), Coordinator::Ending::complete);
  EXPECT_EQ(counts.failed, 0);
  EXPECT_EQ(counts.pending + counts.running, 0);
  EXPECT_GE(counts.done, 1);
  EXPECT_EQ(counts.done + counts.stopped, 6);
  EXPECT_EQ(s.statuses()[1], "done done 60") << "the best trial (d = 0.1) finishes";
}

// A staged sweep: the base trains to train.steps, told nothing; ASHA ranks its dependents only.
TEST(AshaCoordinator, ABaseIsNotUnderEarlyStopping) {
  Sweep s("early_stopping: {rungs: [20, 40], reduction: 2}\n",
          "model: {init: 'base:pre'}\nbases: {pre: {noop: {duration_s: 0.05}}}\n");
  ASSERT_EQ(s.plan.trials.size(), kDurations.size() + 1);
  RungWorkers workers(s.clock, 1);
  EXPECT_EQ(s.run(workers), Coordinator::Ending::complete);
  ASSERT_FALSE(workers.assigned.empty());
  EXPECT_EQ(workers.assigned[0].position, -1) << "the base runs first";
  EXPECT_EQ(workers.assigned[0].stop_at, 0);
  std::vector<std::string> expected = {"done done 60"};
  expected.insert(expected.end(), kFinal.begin(), kFinal.end());
  EXPECT_EQ(s.statuses(), expected);
}

// Without early_stopping every trial trains to train.steps in one attempt (told stop_at_step 0,
// even when its execution block asks for a stop: in a sweep only early stopping parks trials).
TEST(AshaCoordinator, WithoutEarlyStoppingNothingStopsAtARung) {
  Sweep s("", "", ", stop_at_step: 20");
  RungWorkers workers(s.clock, 1);
  EXPECT_EQ(s.run(workers), Coordinator::Ending::complete);
  for (const auto& a : workers.assigned) EXPECT_EQ(a.stop_at, 0);
  EXPECT_EQ(workers.assigned.size(), kDurations.size());
  for (const auto& row : s.statuses()) EXPECT_EQ(row, "done done 60");
}

// --- the early_stopping: block -------------------------------------------------------------

std::string spec_error(const std::string& yaml) {
  try {
    parse_sweep(yaml, "s.yaml", ".");
  } catch (const SpecError& e) {
    return e.what();
  }
  return "";
}

TEST(EarlyStoppingSpec, ReadsRungsAndReduction) {
  const SweepSpec spec = parse_sweep(
      "name: s\nkind: noop\ntrain: {steps: 60}\nearly_stopping: {rungs: [20, 40], reduction: 3, "
      "method: asha}\n",
      "s.yaml", ".");
  ASSERT_TRUE(spec.early_stopping);
  EXPECT_EQ(spec.early_stopping->rungs, (std::vector<int>{20, 40}));
  EXPECT_EQ(spec.early_stopping->reduction, 3);
  EXPECT_FALSE(parse_sweep("name: s\nkind: noop\n", "s.yaml", ".").early_stopping);
  EXPECT_EQ(parse_sweep("name: s\nkind: noop\nearly_stopping: {rungs: [5]}\n", "s.yaml", ".")
                .early_stopping->reduction,
            3)
      << "reduction defaults to 3";
}

TEST(EarlyStoppingSpec, ErrorsAreAtTheKey) {
  const std::string head = "name: s\nkind: noop\ntrain: {steps: 60}\n";
  EXPECT_NE(spec_error(head + "early_stopping: {rungs: [40, 20]}\n")
                .find("s.yaml:4:30: error: early_stopping.rungs must increase: 20 follows 40"),
            std::string::npos)
      << spec_error(head + "early_stopping: {rungs: [40, 20]}\n");
  EXPECT_NE(spec_error(head + "early_stopping: {rungs: [0, 20]}\n")
                .find("s.yaml:4:26: error: a rung (early_stopping.rungs) must be a whole number >= "
                      "1, got '0'"),
            std::string::npos);
  EXPECT_NE(spec_error(head + "early_stopping: {rungs: [20, 60]}\n")
                .find("s.yaml:4:30: error: early_stopping.rungs: the last rung 60 is not below "
                      "train.steps 60 (line 3)"),
            std::string::npos)
      << spec_error(head + "early_stopping: {rungs: [20, 60]}\n");
  // A grid value of train.steps counts too.
  EXPECT_NE(spec_error(head + "grid: {train.steps: [100, 30]}\nearly_stopping: {rungs: [40]}\n")
                .find("the last rung 40 is not below train.steps 30 (line 4)"),
            std::string::npos);
  EXPECT_NE(
      spec_error(head + "early_stopping: {rungs: [20], reduction: 1}\n")
          .find(
              "s.yaml:4:42: error: early_stopping.reduction must be a whole number >= 2, got '1'"),
      std::string::npos);
  EXPECT_NE(spec_error(head + "early_stopping: {rungs: [20], eta: 2}\n")
                .find("early_stopping: unknown key 'eta'"),
            std::string::npos);
  EXPECT_NE(spec_error(head + "early_stopping: {reduction: 2}\n").find("needs 'rungs'"),
            std::string::npos);
  EXPECT_NE(spec_error(head + "early_stopping: {rungs: [20], method: hyperband}\n")
                .find("early_stopping.method must be asha"),
            std::string::npos);
  // Bases are not under it: a base's own train.steps is not checked against the rungs.
  EXPECT_EQ(spec_error(head + "bases: {pre: {train: {steps: 10}}}\nmodel: {init: 'base:pre'}\n"
                              "early_stopping: {rungs: [20]}\n"),
            "");
}

// --- schema 3 -> 4: status stopped ---------------------------------------------------------

TEST(EarlyStoppingSchema, AVersionThreeDatabaseIsUpgradedWithItsTrialsKept) {
  TempDir dir{"locsweep-schema"};
  const std::string path = (dir / "r.sqlite").string();
  {
    // A version-3 file: today's DDL with version 3's status CHECK (no 'stopped').
    std::string v3 = schema_sql();
    const std::string v4_check = ", 'failed', 'stopped'))";
    ASSERT_NE(v3.find(v4_check), std::string::npos);
    v3.replace(v3.find(v4_check), v4_check.size(), ", 'failed'))");
    Database db(path, Database::Mode::read_write_create);
    db.exec(v3);
    db.exec(
        "INSERT INTO meta VALUES ('schema_version', '3'), ('application', 'locsweep'); "
        "INSERT INTO sweeps VALUES (1, 's', '', NULL, 'x', 'x'); "
        "INSERT INTO trials(hash, label, kind, seed, config_json, canonical_json, out_dir, "
        "created_at, status, last_step) VALUES ('h1', 'one', 'noop', 0, '{}', '{}', '/x', 't', "
        "'done', 60), ('h2', 'two', 'noop', 1, '{}', '{}', '/y', 't', 'pending', 20); "
        "INSERT INTO sweep_trials VALUES (1, 'h1', 0, '{}'), (1, 'h2', 1, '{}'); "
        "INSERT INTO attempts(trial_hash, number, status, started_at) VALUES ('h2', 1, "
        "'interrupted', 't');");
    EXPECT_THROW(db.exec("UPDATE trials SET status = 'stopped' WHERE hash = 'h2'"), StoreError)
        << "version 3 has no status stopped";
  }
  {
    Database reader(path, Database::Mode::read_only);
    ensure_schema(reader, false);
    EXPECT_EQ(schema_version(reader), 3) << "a reader changes nothing";
  }
  ResultsStore store = ResultsStore::open_for_writing(path);
  EXPECT_EQ(schema_version(store.db()), kSchemaVersion);
  EXPECT_EQ(sql_rows(path,
                     "SELECT hash || ' ' || status || ' ' || last_step FROM trials "
                     "ORDER BY hash"),
            (std::vector<std::string>{"h1 done 60", "h2 pending 20"}));
  store.stop_trial("h2", 20, "stopped early at rung 1 (step 20)");
  EXPECT_EQ(sql_rows(path,
                     "SELECT status || ' ' || outcome || ' ' || steps_done FROM "
                     "sweep_results WHERE hash = 'h2'"),
            std::vector<std::string>{"stopped rung 20"})
      << "the view is back, over the rebuilt table";
  EXPECT_EQ(sql_rows(path,
                     "SELECT count(*) FROM sqlite_master WHERE type = 'index' AND name IN "
                     "('trials_by_status', 'trials_by_base')"),
            std::vector<std::string>{"2"});
  EXPECT_EQ(sql_rows(path, "SELECT count(*) FROM pragma_foreign_key_check"),
            std::vector<std::string>{"0"});
  EXPECT_EQ(sql_rows(path, "SELECT count(*) FROM attempts WHERE trial_hash = 'h2'"),
            std::vector<std::string>{"1"});
  auto open = store.open_trials(1);
  EXPECT_EQ(open.stopped, 1);
  EXPECT_EQ(open.done, 1);
  EXPECT_TRUE(open.trials.empty());
}

}  // namespace
}  // namespace locsweep
