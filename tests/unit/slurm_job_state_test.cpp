// The Slurm job-state parsers (squeue, scontrol, sacct output as Slurm 22.05 prints it), the
// final/active decision, the one-line description, and run_program's endings (a program
// that is missing, fails, or outlives its time limit). The queries against real daemons are
// in tests/integration/slurm_*_e2e.sh.
#include <gtest/gtest.h>

#include "common/process.hpp"
#include "slurm/job_state.hpp"

namespace locsweep {
namespace {

// ---------------------------------------------------------------- is_final_job_state

struct FinalCase {
  std::string state;
  bool final;
};
class SlurmFinalState : public testing::TestWithParam<FinalCase> {};
TEST_P(SlurmFinalState, Decides) {
  EXPECT_EQ(is_final_job_state(GetParam().state), GetParam().final);
}
INSTANTIATE_TEST_SUITE_P(
    Table, SlurmFinalState,
    testing::Values(
        FinalCase{"COMPLETED", true}, FinalCase{"FAILED", true}, FinalCase{"CANCELLED", true},
        FinalCase{"CANCELLED by 0", true}, FinalCase{"TIMEOUT", true}, FinalCase{"NODE_FAIL", true},
        FinalCase{"PREEMPTED", true}, FinalCase{"OUT_OF_MEMORY", true}, FinalCase{"RUNNING", false},
        FinalCase{"PENDING", false}, FinalCase{"COMPLETING", false}, FinalCase{"REQUEUED", false},
        FinalCase{"REQUEUE_HOLD", false}, FinalCase{"SUSPENDED", false}, FinalCase{"", false}));

// ---------------------------------------------------------------- parse_squeue

TEST(SlurmParseSqueue, ReadsEveryFieldOfEachLine) {
  const auto states = parse_squeue(
      "12|RUNNING|1:23|2:00|vm\n"
      "13|PENDING|0:00|UNLIMITED|(BeginTime)\n"
      "14|COMPLETED|0:03|365-00:00:00|vm\n");
  ASSERT_EQ(states.size(), 3u);
  EXPECT_EQ(states[0].job_id, "12");
  EXPECT_EQ(states[0].state, "RUNNING");
  EXPECT_EQ(states[0].elapsed, "1:23");
  EXPECT_EQ(states[0].time_limit, "2:00");
  EXPECT_EQ(states[0].reason, "vm");
  EXPECT_EQ(states[0].source, "squeue");
  EXPECT_TRUE(states[0].active());
  EXPECT_EQ(states[1].reason, "(BeginTime)");
  EXPECT_TRUE(states[1].active());
  EXPECT_FALSE(states[2].active());  // still listed with -t all, but finished
}

TEST(SlurmParseSqueue, SkipsBlankAndMalformedLines) {
  EXPECT_TRUE(parse_squeue("").empty());
  EXPECT_TRUE(parse_squeue("\n\n").empty());
  EXPECT_TRUE(parse_squeue("slurm_load_jobs error: Invalid job id specified\n").empty());
  EXPECT_TRUE(parse_squeue("12|RUNNING|1:23\n").empty());
  EXPECT_TRUE(parse_squeue("|RUNNING|1:23|2:00|vm\n").empty());
  const auto states = parse_squeue("garbage\r\n7|RUNNING|0:01|5:00|n[1-2]\r\n");
  ASSERT_EQ(states.size(), 1u);
  EXPECT_EQ(states[0].reason, "n[1-2]");
}

// ---------------------------------------------------------------- scontrol_job_field

const char* const kScontrol =
    "JobId=8 JobName=job UserId=root(0) JobState=RUNNING Reason=None Requeue=1 Restarts=2 "
    "BatchFlag=1 ExitCode=0:0 RunTime=00:00:07\n"
    "JobId=81 JobName=other JobState=FAILED Restarts=0 ExitCode=75:0\n";

struct FieldCase {
  std::string job, key;
  std::optional<std::string> value;
};
class SlurmScontrolField : public testing::TestWithParam<FieldCase> {};
TEST_P(SlurmScontrolField, FindsTheJobsOwnLine) {
  EXPECT_EQ(scontrol_job_field(kScontrol, GetParam().job, GetParam().key), GetParam().value);
}
INSTANTIATE_TEST_SUITE_P(Table, SlurmScontrolField,
                         testing::Values(FieldCase{"8", "Restarts", "2"},
                                         FieldCase{"8", "JobState", "RUNNING"},
                                         FieldCase{"81", "Restarts", "0"},  // not 8's line
                                         FieldCase{"81", "ExitCode", "75:0"},
                                         FieldCase{"8", "Nothing", std::nullopt},
                                         FieldCase{"9", "Restarts", std::nullopt}));

// ---------------------------------------------------------------- parse_sacct

TEST(SlurmParseSacct, TakesTheLastRecordAndCountsRequeues) {
  // sacct -c -D: one record per incarnation; the requeued one is recorded as PENDING.
  const std::string out =
      "1|COMPLETED|0:0|00:00:03\n"
      "2|PENDING|0:0|00:00:16\n"
      "2|CANCELLED by 0|0:0|00:00:07\n"
      "2.batch|CANCELLED|0:15|00:00:07\n"
      "20|FAILED|75:0|00:01:00\n";
  const auto two = parse_sacct(out, "2");
  ASSERT_TRUE(two);
  EXPECT_EQ(two->state, "CANCELLED");
  EXPECT_EQ(two->exit_code, "0:0");
  EXPECT_EQ(two->elapsed, "00:00:07");
  EXPECT_EQ(two->source, "sacct");
  EXPECT_EQ(two->restarts, 1);
  EXPECT_FALSE(two->active());  // the controller no longer knows it
  const auto one = parse_sacct(out, "1");
  ASSERT_TRUE(one);
  EXPECT_EQ(one->restarts, 0);
  EXPECT_FALSE(parse_sacct(out, "3"));
  EXPECT_FALSE(parse_sacct("", "1"));
}

// ---------------------------------------------------------------- describe

SlurmJobState state(std::string s, std::string source) {
  SlurmJobState j;
  j.job_id = "5";
  j.state = std::move(s);
  j.source = std::move(source);
  return j;
}

TEST(SlurmDescribe, SaysWhatPeopleNeed) {
  SlurmJobState running = state("RUNNING", "squeue");
  running.elapsed = "1:23";
  running.time_limit = "2:00";
  running.reason = "vm";
  running.restarts = 1;
  EXPECT_EQ(running.describe(), "RUNNING 1:23 of 2:00 on vm, 1 restart");

  SlurmJobState pending = state("PENDING", "squeue");
  pending.elapsed = "0:00";
  pending.time_limit = "2:00";
  pending.reason = "(BeginTime)";
  pending.restarts = 3;
  EXPECT_EQ(pending.describe(), "PENDING 0:00 of 2:00 (BeginTime), 3 restarts");

  SlurmJobState failed = state("FAILED", "squeue");
  failed.elapsed = "0:40";
  failed.time_limit = "2:00";
  failed.reason = "vm";
  failed.exit_code = "75:0";
  failed.restarts = 0;
  EXPECT_EQ(failed.describe(), "FAILED 0:40, exit 75:0, 0 restarts");

  SlurmJobState accounted = state("COMPLETED", "sacct");
  accounted.elapsed = "00:00:03";
  accounted.exit_code = "0:0";
  EXPECT_EQ(accounted.describe(), "COMPLETED (from accounting) after 00:00:03, exit 0:0");

  SlurmJobState unknown;
  unknown.note = "not in squeue";
  EXPECT_EQ(unknown.describe(), "unknown (not in squeue)");
  EXPECT_FALSE(unknown.active());
}

// ---------------------------------------------------------------- run_program

TEST(SlurmRunProgram, CapturesOutputAndStatus) {
  const auto r = run_program({"sh", "-c", "echo out; echo err >&2; exit 3"}, 10);
  EXPECT_EQ(r.ending, ProgramResult::Ending::exited);
  EXPECT_EQ(r.status, 3);
  EXPECT_EQ(r.out, "out\n");
  EXPECT_EQ(r.err, "err\n");
  EXPECT_FALSE(r.ok());
}

TEST(SlurmRunProgram, ReportsAMissingProgram) {
  const auto r = run_program({"locsweep-no-such-program-here"}, 10);
  EXPECT_EQ(r.ending, ProgramResult::Ending::not_found);
}

TEST(SlurmRunProgram, StopsAProgramAtItsTimeLimit) {
  // Without the limit it would end after 30 s with status 0 ("exited").
  const auto r = run_program({"sleep", "30"}, 0.3);
  EXPECT_EQ(r.ending, ProgramResult::Ending::timed_out);
}

TEST(SlurmRunProgram, StopsAProgramThatClosedItsOutputButGoesOn) {
  const auto r = run_program({"sh", "-c", "exec >&- 2>&-; sleep 30"}, 0.3);
  EXPECT_EQ(r.ending, ProgramResult::Ending::timed_out);
}

// Without Slurm tools on PATH every state is unknown, with the reason.
TEST(SlurmQueryJobStates, WithoutSqueueEveryStateIsUnknown) {
  const char* old = std::getenv("PATH");
  const std::string saved = old ? old : "";
  ::setenv("PATH", "/nonexistent-locsweep-test", 1);
  const auto states = query_job_states({"1", "2"}, 5);
  ::setenv("PATH", saved.c_str(), 1);
  ASSERT_EQ(states.size(), 2u);
  EXPECT_EQ(states[1].job_id, "2");
  EXPECT_FALSE(states[0].known());
  EXPECT_FALSE(states[0].queue_answered);
  EXPECT_NE(states[0].note.find("squeue not on PATH"), std::string::npos) << states[0].note;
}

}  // namespace
}  // namespace locsweep
