// Bitwise resume: a trial stopped half-way (checkpoint, Outcome::preempted) and resumed
// produces exactly the per-step losses, final parameters and optimiser state of the same
// trial run straight through. Dropout is on, so the saved RNG state matters; one case uses
// the penalty mechanism with adaptive blocks (blocks from the live embedding).
#include <gtest/gtest.h>

#include <atomic>
#include <string>

#include "loaded_checkpoint.hpp"
#include "worker/checkpoint.hpp"
#include "worker/trial.hpp"
#include "worker_test_support.hpp"

namespace locsweep {
namespace {

namespace fs = std::filesystem;
using testing::expect_same_training_state;
using testing::LoadedCheckpoint;

struct ResumeCase {
  std::string name;
  std::string locality;  // YAML flow map
  int checkpoint_every;
};

class Resume : public ::testing::TestWithParam<ResumeCase> {};

constexpr int kSteps = 12;

TrialConfig config_for(const ResumeCase& c, const testing::TrialDir& dir) {
  return testing::config_from_yaml(
      "seed: 5\n"
      "model: {n_layer: 2, n_head: 2, n_embd: 32, block_size: 32, dropout: 0.1}\n"
      "data: {corpus: text.txt, tokenizer: bytes}\n"
      "train: {steps: " +
          std::to_string(kSteps) +
          ", batch_size: 4, lr: 3.0e-3, min_lr: 3.0e-4, warmup_steps: 3}\n"
          "locality: " +
          c.locality +
          "\n"
          "eval: {every: 4, windows: 4}\n"
          "record: {attention_windows: 1}\n"
          "execution: {checkpoint_every: " +
          std::to_string(c.checkpoint_every) + "}\n",
      dir.path());
}

TEST_P(Resume, StoppedAndResumedEqualsStraightThrough) {
  testing::TrialDir dir;
  const TrialConfig c = config_for(GetParam(), dir);

  TrialRunOptions straight_opts;
  straight_opts.out_dir = dir / "straight";
  straight_opts.threads = 1;
  testing::RecordingProgress straight_events;
  straight_opts.progress = &straight_events;
  const TrialResult straight = run_trial(c, straight_opts);
  ASSERT_EQ(straight.outcome, Outcome::done) << straight.message;

  // First half: the sink raises the stop flag when step N/2 is reported; the trial
  // checkpoints at the top of the next step and returns.
  std::atomic<bool> stop{false};
  TrialRunOptions first_opts;
  first_opts.out_dir = dir / "resumed";
  first_opts.threads = 1;
  first_opts.stop = &stop;
  testing::RecordingProgress first_events;
  first_events.on_event = [&](const nlohmann::json& e) {
    if (e.at("event") == "step" && e.at("step") == kSteps / 2) stop = true;
  };
  first_opts.progress = &first_events;
  const TrialResult first = run_trial(c, first_opts);
  ASSERT_EQ(first.outcome, Outcome::preempted) << first.message;
  EXPECT_EQ(first.steps_done, kSteps / 2);
  EXPECT_FALSE(fs::exists(dir / "resumed" / "result.json"));  // not finished
  EXPECT_EQ(LoadedCheckpoint(c, dir / "resumed" / "checkpoint.h5").state.step, kSteps / 2);

  TrialRunOptions second_opts = first_opts;
  second_opts.stop = nullptr;
  second_opts.resume = TrialRunOptions::Resume::required;
  testing::RecordingProgress second_events;
  second_opts.progress = &second_events;
  const TrialResult second = run_trial(c, second_opts);
  ASSERT_EQ(second.outcome, Outcome::done) << second.message;
  EXPECT_EQ(second.resumed_from, kSteps / 2);
  EXPECT_EQ(second.steps_done, kSteps);
  ASSERT_FALSE(second_events.of_kind("start").empty());
  EXPECT_EQ(second_events.of_kind("start").front().at("resumed_from"), kSteps / 2);

  // Per-step losses: identical as doubles.
  const auto want = straight_events.losses();
  auto got = first_events.losses();
  for (const auto& [step, loss] : second_events.losses()) {
    EXPECT_EQ(got.count(step), 0u) << "step " << step << " ran twice";
    got[step] = loss;
  }
  ASSERT_EQ(want.size(), static_cast<size_t>(kSteps));
  ASSERT_EQ(got.size(), want.size());
  for (const auto& [step, loss] : want) EXPECT_EQ(got.at(step), loss) << "step " << step;

  // Final checkpoints: parameters, moments and RNG state bitwise identical.
  LoadedCheckpoint a(c, dir / "straight" / "checkpoint.h5"),
      b(c, dir / "resumed" / "checkpoint.h5");
  EXPECT_EQ(a.state.step, kSteps);
  EXPECT_EQ(b.state.step, kSteps);
  expect_same_training_state(a, b);
  EXPECT_EQ(a.state.recent_loss, b.state.recent_loss);

  // And so the results agree exactly.
  EXPECT_EQ(second.val_loss, straight.val_loss);
  EXPECT_EQ(second.train_loss, straight.train_loss);
  ASSERT_EQ(second.heads.size(), straight.heads.size());
  for (size_t i = 0; i < straight.heads.size(); ++i) {
    EXPECT_EQ(second.heads[i].entropy_bits, straight.heads[i].entropy_bits);
    EXPECT_EQ(second.heads[i].in_block_mass, straight.heads[i].in_block_mass);
  }
}

INSTANTIATE_TEST_SUITE_P(
    Mechanisms, Resume,
    ::testing::Values(
        // A periodic checkpoint falls before the stop (step 5) and after it (step 10).
        ResumeCase{"block_sentence", "{mechanism: block, schedule: quintic, blocks: sentence}", 5},
        ResumeCase{"penalty_adaptive",
                   "{mechanism: penalty, schedule: linear, blocks: \"adaptive:0.5\"}", 100}),
    [](const ::testing::TestParamInfo<ResumeCase>& info) { return info.param.name; });

// Control for the test above: with dropout > 0 the losses depend on the dropout stream, so a
// checkpoint that did not save or restore the generator's state would break the resume.
TEST(ResumeControl, DropoutChangesTheLosses) {
  testing::TrialDir dir;
  TrialConfig with = config_for({"block", "{mechanism: block, schedule: quintic}", 100}, dir);
  TrialConfig without = with;
  without.model.dropout = 0.0;
  auto losses = [&](const TrialConfig& c, const std::string& out) {
    TrialRunOptions o;
    o.out_dir = dir / out;
    o.threads = 1;
    testing::RecordingProgress events;
    o.progress = &events;
    EXPECT_EQ(run_trial(c, o).outcome, Outcome::done);
    return events.losses();
  };
  EXPECT_NE(losses(with, "a").at(1), losses(without, "b").at(1));
}

}  // namespace
}  // namespace locsweep
