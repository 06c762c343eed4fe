// What the coordinator and the ranks agree on: the outcome -> action table (trial/outcome.hpp),
// the typed messages (orchestrator/protocol.hpp: round trips, and one clear error for a missing
// or mistyped field), and the trial's execution defaults (sweeps/trial_config.hpp).
#include <gtest/gtest.h>

#include <string>

#include "orchestrator/protocol.hpp"
#include "sweeps/trial_config.hpp"
#include "trial/outcome.hpp"

namespace locsweep {
namespace {

using nlohmann::json;

struct OutcomeCase {
  Outcome outcome;
  const char* name;
  CoordinatorAction action;
};

// clang-format off
const OutcomeCase kOutcomeCases[] = {
    {Outcome::done,      "done",      CoordinatorAction::record_done},
    {Outcome::crash,     "crash",     CoordinatorAction::retry},
    {Outcome::timeout,   "timeout",   CoordinatorAction::retry},
    {Outcome::oom,       "oom",       CoordinatorAction::retry},
    {Outcome::nan,       "nan",       CoordinatorAction::fail},
    {Outcome::error,     "error",     CoordinatorAction::fail},
    {Outcome::preempted, "preempted", CoordinatorAction::resume},
    {Outcome::lost,      "lost",      CoordinatorAction::run_elsewhere},
    {Outcome::disk_full, "disk_full", CoordinatorAction::pause_sweep},
    {Outcome::rung,      "rung",      CoordinatorAction::park},
};
// clang-format on

TEST(OutcomeTable, EachOutcomeHasItsAction) {
  for (const auto& c : kOutcomeCases) {
    SCOPED_TRACE(c.name);
    EXPECT_EQ(to_string(c.outcome), c.name);
    EXPECT_EQ(outcome_from_string(c.name), c.outcome);
    EXPECT_EQ(action_for(c.outcome), c.action) << to_string(action_for(c.outcome));
    EXPECT_EQ(is_retryable(c.outcome), c.action == CoordinatorAction::retry);
  }
  EXPECT_THROW(outcome_from_string("exploded"), InputError);
}

TEST(ExecutionDefaults, AbsentKeysKeepExecutionConfigDefaults) {
  const ExecutionConfig defaults;
  for (const json& config : {json::object(), json{{"execution", json::object()}}}) {
    const ExecutionConfig e = execution_config_from_json(config);
    EXPECT_EQ(e.max_retries, defaults.max_retries);
    EXPECT_EQ(e.max_preemptions, defaults.max_preemptions);
    EXPECT_EQ(e.timeout_s, defaults.timeout_s);
    EXPECT_EQ(e.kill_grace_s, defaults.kill_grace_s);
    EXPECT_EQ(e.checkpoint_every, defaults.checkpoint_every);
    EXPECT_EQ(e.stop_at_step, defaults.stop_at_step);
  }
}

TEST(ExecutionDefaults, ReadsTheExecutionBlockOfAConfig) {
  TrialConfig c;
  c.execution.max_retries = 7;
  c.execution.max_preemptions = 3;
  c.execution.timeout_s = 12.5;
  c.execution.kill_grace_s = 4;
  c.execution.stop_at_step = 30;
  const ExecutionConfig e = execution_config_from_json(to_json(c));
  EXPECT_EQ(e.max_retries, 7);
  EXPECT_EQ(e.max_preemptions, 3);
  EXPECT_EQ(e.timeout_s, 12.5);
  EXPECT_EQ(e.kill_grace_s, 4);
  EXPECT_EQ(e.stop_at_step, 30);
  EXPECT_THROW(execution_config_from_json({{"execution", {{"max_retries", "two"}}}}), InputError);
}

template <class M, class Variant>
M round_trip(const M& m, Variant (*decode)(const json&)) {
  const Variant v = decode(protocol::to_json(m));
  EXPECT_TRUE(std::holds_alternative<M>(v)) << protocol::to_json(m).dump();
  return std::get<M>(v);
}

TEST(Protocol, EveryMessageRoundTrips) {
  protocol::Ready ready{"node7", 42, "cuda:1", 4, {{"torch", "1.13"}}};
  const auto r = round_trip(ready, &protocol::decode_from_rank);
  EXPECT_EQ(r.host, "node7");
  EXPECT_EQ(r.pid, 42);
  EXPECT_EQ(r.device, "cuda:1");
  EXPECT_EQ(r.threads, 4);
  EXPECT_EQ(r.versions, ready.versions);

  const json events = json::array({{{"event", "step"}, {"step", 3}}});
  EXPECT_EQ(round_trip(protocol::Events{9, events}, &protocol::decode_from_rank).events, events);

  TrialResult result;
  result.outcome = Outcome::oom;
  result.message = "out of memory";
  result.steps_done = 17;
  const auto f = round_trip(protocol::Finished{5, result}, &protocol::decode_from_rank);
  EXPECT_EQ(f.attempt_id, 5);
  EXPECT_EQ(f.result.outcome, Outcome::oom);
  EXPECT_EQ(f.result.message, "out of memory");
  EXPECT_EQ(f.result.steps_done, 17);

  EXPECT_EQ(round_trip(protocol::Heartbeat{-1}, &protocol::decode_from_rank).attempt_id, -1);
  round_trip(protocol::Bye{}, &protocol::decode_from_rank);

  protocol::Assign assign;
  assign.attempt_id = 11;
  assign.hash = "abc";
  assign.number = 3;
  assign.config = {{"kind", "noop"}};
  assign.out_dir = "/tmp/t";
  assign.timeout_s = 90;
  assign.kill_grace_s = 15;
  const auto a = round_trip(assign, &protocol::decode_from_coordinator);
  EXPECT_EQ(a.attempt_id, 11);
  EXPECT_EQ(a.hash, "abc");
  EXPECT_EQ(a.number, 3);
  EXPECT_EQ(a.config, assign.config);
  EXPECT_EQ(a.out_dir, "/tmp/t");
  EXPECT_EQ(a.timeout_s, 90);
  EXPECT_EQ(a.kill_grace_s, 15);
  round_trip(protocol::Stop{}, &protocol::decode_from_coordinator);
  round_trip(protocol::Shutdown{}, &protocol::decode_from_coordinator);
  round_trip(protocol::Abandon{}, &protocol::decode_from_coordinator);
}

// The error of decoding `message`, which must be a ProtocolError.
template <class Decode>
std::string protocol_error(Decode decode, const json& message) {
  try {
    decode(message);
  } catch (const protocol::ProtocolError& e) {
    return e.what();
  }
  ADD_FAILURE() << "decoded: " << message.dump();
  return "";
}

TEST(Protocol, AMissingOrMistypedFieldIsOneClearError) {
  json assign = protocol::to_json(protocol::Assign{});
  assign.erase("timeout_s");
  const std::string missing = protocol_error(protocol::decode_from_coordinator, assign);
  EXPECT_NE(missing.find("'assign'"), std::string::npos) << missing;
  EXPECT_NE(missing.find("'timeout_s'"), std::string::npos) << missing;

  json finished = protocol::to_json(protocol::Finished{});
  finished["attempt_id"] = "7";
  const std::string mistyped = protocol_error(protocol::decode_from_rank, finished);
  EXPECT_NE(mistyped.find("'attempt_id' must be an integer, not string"), std::string::npos)
      << mistyped;

  EXPECT_NE(protocol_error(protocol::decode_from_rank, json{{"type", "hello"}}).find("'hello'"),
            std::string::npos);
  EXPECT_NE(protocol_error(protocol::decode_from_rank, json{{"kind", "ready"}}).find("\"type\""),
            std::string::npos);
  EXPECT_NE(protocol_error(protocol::decode_from_rank, json::array()).find("not an object"),
            std::string::npos);
  // A rank's message is not a coordinator's, and the other way round.
  protocol_error(protocol::decode_from_coordinator, protocol::to_json(protocol::Bye{}));
  protocol_error(protocol::decode_from_rank, protocol::to_json(protocol::Stop{}));
}

TEST(Protocol, AnUnreadableResultStillClosesTheAttemptAsACrash) {
  json finished = protocol::to_json(protocol::Finished{8, TrialResult{}});
  finished["result"]["outcome"] = "exploded";
  const auto f = std::get<protocol::Finished>(protocol::decode_from_rank(finished));
  EXPECT_EQ(f.attempt_id, 8);
  EXPECT_EQ(f.result.outcome, Outcome::crash);
  EXPECT_NE(f.result.message.find("unreadable result"), std::string::npos) << f.result.message;
}

}  // namespace
}  // namespace locsweep
