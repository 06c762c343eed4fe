// Early-stopping rungs (execution.stop_at_step, Outcome::rung): a trial stopped at a rung is
// checkpointed and validated there, and a later attempt resumes from that checkpoint. Run to
// a rung, resume to a second rung, resume to the end: every training step's loss, every
// validation, the final checkpoint and the final result are bit-for-bit those of the same
// trial run straight through (one thread on the CPU, so every reduction runs in the same
// order; dropout is on, so the generator's saved state matters). One case stops at steps
// that are multiples of eval.every, the other at steps that are multiples of neither
// eval.every nor execution.checkpoint_every.
#include <gtest/gtest.h>

#include <cmath>
#include <map>
#include <string>
#include <vector>

#include "loaded_checkpoint.hpp"
#include "worker/checkpoint.hpp"
#include "worker/trial.hpp"
#include "worker_test_support.hpp"

namespace locsweep {
namespace {

namespace fs = std::filesystem;
using testing::expect_same_training_state;
using testing::LoadedCheckpoint;
using testing::RecordingProgress;

constexpr int kSteps = 12;
constexpr int kEvalEvery = 4;
constexpr int kCheckpointEvery = 5;

struct RungCase {
  std::string name;
  std::string locality;  // YAML flow map
  int first_stop, second_stop;
  int last_stop;  // the last attempt's stop_at_step: 0 or >= train.steps, both mean none
};

class Rung : public ::testing::TestWithParam<RungCase> {};

// The first attempt's configuration, execution.stop_at_step written in YAML as a user would.
TrialConfig config_for(const RungCase& c, const testing::TrialDir& dir, int eval_every,
                       int stop_at_step) {
  return testing::config_from_yaml(
      "seed: 7\n"
      "model: {n_layer: 2, n_head: 2, n_embd: 32, block_size: 32, dropout: 0.1}\n"
      "data: {corpus: text.txt, tokenizer: bytes}\n"
      "train: {steps: " +
          std::to_string(kSteps) +
          ", batch_size: 4, lr: 3.0e-3, min_lr: 3.0e-4, warmup_steps: 3}\n"
          "locality: " +
          c.locality + "\neval: {every: " + std::to_string(eval_every) +
          ", windows: 4}\n"
          "record: {attention_windows: 1}\n"
          "execution: {checkpoint_every: " +
          std::to_string(kCheckpointEvery) + ", stop_at_step: " + std::to_string(stop_at_step) +
          "}\n",
      dir.path());
}

// step -> validation loss, from the "eval" events.
std::map<int, double> validations(const RecordingProgress& events) {
  std::map<int, double> out;
  for (const auto& e : events.of_kind("eval"))
    out[e.at("step").get<int>()] = e.at("val_loss").get<double>();
  return out;
}

struct Attempt {
  TrialResult result;
  RecordingProgress events;
};

// One attempt in `out`, resuming from a checkpoint there as the trial child does.
Attempt attempt(const TrialConfig& c, const fs::path& out) {
  Attempt run;
  TrialRunOptions o;
  o.out_dir = out;
  o.threads = 1;
  o.resume = TrialRunOptions::Resume::if_valid;
  o.progress = &run.events;
  run.result = run_trial(c, o);
  return run;
}

// Checks an attempt that should have stopped at rung `stop`, resumed from `from`.
void expect_rung(const Attempt& run, const fs::path& out, const TrialConfig& c, int from, int stop,
                 const std::map<int, double>& reference_val) {
  SCOPED_TRACE("rung at step " + std::to_string(stop));
  const TrialResult& r = run.result;
  ASSERT_EQ(r.outcome, Outcome::rung) << to_string(r.outcome) << ": " << r.message;
  EXPECT_EQ(r.steps_done, stop);
  EXPECT_EQ(r.resumed_from, from);
  // Its validation is that step's periodic validation, reported as such (once).
  const auto val = validations(run.events);
  ASSERT_EQ(val.count(stop), 1u) << "no eval event at the rung";
  EXPECT_EQ(r.val_loss, val.at(stop));
  EXPECT_EQ(r.val_loss, reference_val.at(stop)) << "differs from the uninterrupted run's";
  EXPECT_EQ(r.val_ppl, std::exp(r.val_loss));
  EXPECT_GT(r.val_tokens, 0);
  EXPECT_TRUE(r.heads.empty()) << "a rung has no final evaluation";
  // Checkpointed at the rung, whatever checkpoint_every says; not finished.
  EXPECT_EQ(LoadedCheckpoint(c, out / "checkpoint.h5").state.step, stop);
  ASSERT_EQ(r.artifacts.size(), 1u);
  EXPECT_EQ(r.artifacts[0].kind, "checkpoint");
  EXPECT_FALSE(fs::exists(out / "result.json"));
  EXPECT_FALSE(fs::exists(out / "attention.h5"));
  ASSERT_EQ(run.events.of_kind("start").size(), 1u);
  EXPECT_EQ(run.events.of_kind("start")[0].at("stop_at_step"), stop);
  // Its steps are the ones after its checkpoint, up to the rung and no further.
  const auto losses = run.events.losses();
  ASSERT_FALSE(losses.empty());
  EXPECT_EQ(losses.begin()->first, from + 1);
  EXPECT_EQ(losses.rbegin()->first, stop);
}

TEST_P(Rung, RungByRungEqualsStraightThrough) {
  const RungCase& k = GetParam();
  testing::TrialDir dir;

  // The uninterrupted run, and the same trial validated after every step (eval.every is not
  // part of the trial; the dense run gives the reference validation at any rung step).
  const TrialConfig straight_c = config_for(k, dir, kEvalEvery, 0);
  Attempt straight = attempt(straight_c, dir / "straight");
  ASSERT_EQ(straight.result.outcome, Outcome::done) << straight.result.message;
  Attempt dense = attempt(config_for(k, dir, 1, 0), dir / "dense");
  ASSERT_EQ(dense.result.outcome, Outcome::done) << dense.result.message;
  const auto reference_val = validations(dense.events);
  // Validating more often changes nothing of the training: the control that makes the dense
  // run a reference.
  EXPECT_EQ(dense.events.losses(), straight.events.losses());
  EXPECT_EQ(dense.result.val_loss, straight.result.val_loss);
  for (const auto& [step, loss] : validations(straight.events))
    EXPECT_EQ(reference_val.at(step), loss) << "step " << step;

  // Rung 1, rung 2 (and its replay: the coordinator may ask again), then the rest.
  const fs::path out = dir / "rungs";
  TrialConfig c = config_for(k, dir, kEvalEvery, k.first_stop);
  EXPECT_EQ(c.execution.stop_at_step, k.first_stop);
  EXPECT_EQ(trial_hash(c), trial_hash(straight_c)) << "stop_at_step must not be hashed";
  std::vector<Attempt> runs;
  runs.push_back(attempt(c, out));
  expect_rung(runs.back(), out, c, 0, k.first_stop, reference_val);
  if (k.first_stop % kEvalEvery == 0) {
    EXPECT_EQ(runs.back().result.val_loss, validations(straight.events).at(k.first_stop));
  }

  c.execution.stop_at_step = k.second_stop;
  runs.push_back(attempt(c, out));
  expect_rung(runs.back(), out, c, k.first_stop, k.second_stop, reference_val);

  Attempt replay = attempt(c, out);
  ASSERT_EQ(replay.result.outcome, Outcome::rung) << replay.result.message;
  EXPECT_EQ(replay.result.steps_done, k.second_stop);
  EXPECT_EQ(replay.result.val_loss, runs.back().result.val_loss);
  EXPECT_TRUE(replay.events.losses().empty()) << "a rung reached is not retrained";

  c.execution.stop_at_step = k.last_stop;
  runs.push_back(attempt(c, out));
  const TrialResult& last = runs.back().result;
  ASSERT_EQ(last.outcome, Outcome::done) << last.message;
  EXPECT_EQ(last.resumed_from, k.second_stop);
  EXPECT_EQ(last.steps_done, kSteps);
  EXPECT_TRUE(fs::exists(out / "result.json"));

  // Every step ran once, with the uninterrupted run's loss; every validation any attempt
  // reported is the uninterrupted (dense) run's at that step.
  std::map<int, double> losses;
  for (const Attempt& run : runs) {
    for (const auto& [step, loss] : run.events.losses()) {
      EXPECT_EQ(losses.count(step), 0u) << "step " << step << " ran twice";
      losses[step] = loss;
    }
    for (const auto& [step, loss] : validations(run.events))
      EXPECT_EQ(loss, reference_val.at(step)) << "validation at step " << step;
  }
  const auto want = straight.events.losses();
  ASSERT_EQ(want.size(), static_cast<size_t>(kSteps));
  ASSERT_EQ(losses.size(), want.size());
  for (const auto& [step, loss] : want) EXPECT_EQ(losses.at(step), loss) << "step " << step;

  // The final state and result are the uninterrupted run's, exactly.
  LoadedCheckpoint a(c, dir / "straight" / "checkpoint.h5"), b(c, out / "checkpoint.h5");
  EXPECT_EQ(b.state.step, kSteps);
  expect_same_training_state(a, b);
  EXPECT_EQ(last.val_loss, straight.result.val_loss);
  EXPECT_EQ(last.train_loss, straight.result.train_loss);
  ASSERT_EQ(last.heads.size(), straight.result.heads.size());
  for (size_t i = 0; i < last.heads.size(); ++i)
    EXPECT_EQ(last.heads[i].in_block_mass, straight.result.heads[i].in_block_mass);
}

INSTANTIATE_TEST_SUITE_P(
    Stops, Rung,
    ::testing::Values(
        // Rungs on periodic validations (4, 8), neither on a periodic checkpoint (5, 10).
        RungCase{"on_eval_steps", "{mechanism: block, schedule: quintic, blocks: sentence}", 4, 8,
                 0},
        // Rungs on neither (3, 7); blocks from the live embedding; the last stop is
        // train.steps itself, which means none.
        RungCase{"off_eval_and_checkpoint_steps",
                 "{mechanism: penalty, schedule: linear, blocks: \"adaptive:0.5\"}", 3, 7, kSteps}),
    [](const ::testing::TestParamInfo<RungCase>& info) { return info.param.name; });

}  // namespace
}  // namespace locsweep
