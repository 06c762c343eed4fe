// Rank liveness: a worker agent heartbeats while idle, `abandon` ends it; the coordinator
// loses a silent rank (busy or idle), puts its trial back to pending without using a retry,
// sends it nothing after `abandon`, and tells the transport to give up on it.
#include <gtest/gtest.h>
#include <sqlite3.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <map>
#include <set>
#include <thread>

#include "orchestrator/coordinator.hpp"
#include "orchestrator/protocol.hpp"
#include "orchestrator/rank_agent.hpp"
#include "support/sql_rows.hpp"
#include "sweeps/plan.hpp"

namespace locsweep {
namespace {
namespace fs = std::filesystem;
using nlohmann::json;
using Clock = std::chrono::steady_clock;

TEST(RankLiveness, IdleAgentHeartbeatsEveryPeriod) {
  RankSetup setup;
  setup.heartbeat_s = 0.05;
  RankAgent agent(setup);
  EXPECT_TRUE(agent.poll(0).empty());  // nothing before a period has passed
  int heartbeats = 0;
  const auto end = Clock::now() + std::chrono::milliseconds(400);
  while (Clock::now() < end) {
    for (const auto& m : agent.poll(0)) {
      ASSERT_EQ(m.value("type", ""), protocol::Heartbeat::kType);
      EXPECT_EQ(m.value("attempt_id", int64_t{0}), -1);  // idle
      ++heartbeats;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  EXPECT_GE(heartbeats, 3);
  EXPECT_LE(heartbeats, 9);
}

TEST(RankLiveness, AbandonSaysBye) {
  RankAgent agent(RankSetup{});
  agent.on_message({{"type", protocol::Abandon::kType}});
  const auto out = agent.poll(0);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].value("type", ""), protocol::Bye::kType);
  EXPECT_TRUE(agent.done());
}

// Worker 0 answers every assignment with a done result and heartbeats; worker 1 says ready,
// then never speaks again (whether it is given a trial or not).
class ScriptedTransport : public Transport {
 public:
  ScriptedTransport() {
    for (int w = 0; w < 2; ++w) {
      protocol::Ready ready;
      ready.host = "h";
      ready.pid = 10 + w;
      inbox_.push_back({w, protocol::to_json(ready)});
    }
  }
  int worker_count() const override { return 2; }
  void send(int worker, const json& m) override {
    ASSERT_FALSE(given_up_.count(worker)) << "sent to a lost worker: " << m.dump();
    sent_[worker].push_back(m.value("type", ""));
    const std::string type = m.value("type", "");
    if (worker == 0 && type == protocol::Assign::kType) {
      TrialResult r;
      r.outcome = Outcome::done;
      inbox_.push_back({0,
                        {{"type", protocol::Finished::kType},
                         {"attempt_id", m.at("attempt_id")},
                         {"result", to_json(r)}}});
    } else if (worker == 0 && type == protocol::Shutdown::kType) {
      inbox_.push_back({0, {{"type", protocol::Bye::kType}}});
    }
  }
  std::optional<std::pair<int, json>> receive(int timeout_us) override {
    if (Clock::now() - last_beat_ > std::chrono::milliseconds(20)) {
      last_beat_ = Clock::now();
      inbox_.push_back({0, {{"type", protocol::Heartbeat::kType}, {"attempt_id", -1}}});
    }
    if (inbox_.empty()) {
      std::this_thread::sleep_for(std::chrono::microseconds(timeout_us));
      return std::nullopt;
    }
    auto m = inbox_.front();
    inbox_.erase(inbox_.begin());
    return m;
  }
  void abort_all(int) override { FAIL() << "abort_all"; }
  void give_up_on(int worker) override { given_up_.insert(worker); }
  int lost_workers() const override { return static_cast<int>(given_up_.size()); }

  std::vector<std::pair<int, json>> inbox_;
  std::map<int, std::vector<std::string>> sent_;
  std::set<int> given_up_;
  Clock::time_point last_beat_ = Clock::now();
};

struct SweepFixture {
  fs::path dir =
      fs::temp_directory_path() / ("locsweep-rank-liveness-" + std::to_string(::getpid()) + "-" +
                                   ::testing::UnitTest::GetInstance()->current_test_info()->name());
  SweepFixture() { fs::create_directories(dir); }
  ~SweepFixture() { fs::remove_all(dir); }
  std::string db() const { return (dir / "r.sqlite").string(); }
  // "status retries_used attempts outcomes" of every trial, ordered by position.
  std::vector<std::string> trial_rows() const {
    return test_support::sql_rows(
        db(),
        "SELECT t.status || ' ' || t.retries_used || ' ' || "
        "(SELECT group_concat(worker_rank || ':' || outcome, ',') FROM "
        "(SELECT * FROM attempts a WHERE a.trial_hash = t.hash ORDER BY number)) "
        "FROM trials t JOIN sweep_trials st ON st.trial_hash = t.hash ORDER BY st.position");
  }
};

// Runs a 2-trial noop sweep (no retries allowed) on the scripted transport.
Coordinator::Ending run_sweep_on(ScriptedTransport& transport, const SweepFixture& f,
                                 const std::string& points) {
  const SweepSpec spec = parse_sweep(
      "name: t\nkind: noop\norder: fifo\nexecution: {max_retries: 0}\npoints: " + points + "\n",
      "<test>", f.dir.string());
  const Plan plan = plan_sweep(spec);
  ResultsStore store = ResultsStore::open_for_writing(f.db());
  RunInfo info;
  info.host = "h";
  info.pid = ::getpid();
  const auto sync = store.sync_sweep(spec, plan, (f.dir / "artifacts").string(), false);
  const int64_t run_id = store.begin_run(sync.sweep_id, info, 30);
  auto open = store.open_trials(sync.sweep_id);
  StatusDisplay display("t", true);
  CoordinatorOptions o;
  o.order = DispatchOrder::fifo;
  o.worker_silence_s = 0.3;
  Coordinator c(store, run_id, std::move(open.trials), SweepCounts{}, transport, display, o);
  return c.run();
}

TEST(RankLiveness, BusySilentRankIsLostAndItsTrialRunsElsewhereWithoutARetry) {
  SweepFixture f;
  ScriptedTransport t;
  const auto start = Clock::now();
  EXPECT_EQ(run_sweep_on(t, f, "[{noop.duration_s: 1}, {noop.duration_s: 2}]"),
            Coordinator::Ending::complete);
  EXPECT_GE(Clock::now() - start, std::chrono::milliseconds(300));
  EXPECT_EQ(t.given_up_, std::set<int>{1});
  EXPECT_EQ(t.sent_[1],
            (std::vector<std::string>{protocol::Assign::kType, protocol::Abandon::kType}));
  const auto rows = f.trial_rows();
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[0], "done 0 1:done");
  EXPECT_EQ(rows[1], "done 0 2:lost,1:done");  // retries_used 0 although max_retries is 0
}

TEST(RankLiveness, IdleSilentRankIsLostSoTheSweepEnds) {
  SweepFixture f;
  ScriptedTransport t;
  // One trial: worker 0 takes it; worker 1 stays idle and silent.
  EXPECT_EQ(run_sweep_on(t, f, "[{noop.duration_s: 1}]"), Coordinator::Ending::complete);
  EXPECT_EQ(t.given_up_, std::set<int>{1});
  EXPECT_EQ(f.trial_rows(), std::vector<std::string>{"done 0 1:done"});
  EXPECT_EQ(t.sent_[1].back(), protocol::Abandon::kType);
}

}  // namespace
}  // namespace locsweep
