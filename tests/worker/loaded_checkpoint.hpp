// A trial's checkpoint loaded back for the resume tests (resume_test, rung_test), and the
// check that two checkpoints hold bitwise the same training state.
#pragma once

#include <gtest/gtest.h>

#include <cstddef>
#include <filesystem>

#include "worker/checkpoint.hpp"
#include "worker/trial.hpp"
#include "worker_test_support.hpp"

namespace locsweep::testing {

// The model and optimiser state of a checkpoint.
struct LoadedCheckpoint {
  Gpt2 model;
  AdamW optimizer;
  TrainingState state;
  LoadedCheckpoint(const TrialConfig& c, const std::filesystem::path& file)
      : model(gpt_config_for(c, 256), torch::kCPU), optimizer(model.parameters(), AdamWOptions{}) {
    state = load_checkpoint(file, trial_hash(c), model, optimizer);
  }
};

// Parameters, both Adam moments and the RNG state are bitwise identical (non-const: AdamW's
// moment accessors are).
inline void expect_same_training_state(LoadedCheckpoint& a, LoadedCheckpoint& b) {
  ASSERT_EQ(a.model.parameters().size(), b.model.parameters().size());
  for (size_t i = 0; i < a.model.parameters().size(); ++i) {
    const auto& name = a.model.parameters()[i].name;
    EXPECT_TRUE(bitwise_equal(a.model.parameters()[i].tensor, b.model.parameters()[i].tensor))
        << name;
    EXPECT_TRUE(bitwise_equal(a.optimizer.exp_avg()[i], b.optimizer.exp_avg()[i])) << name;
    EXPECT_TRUE(bitwise_equal(a.optimizer.exp_avg_sq()[i], b.optimizer.exp_avg_sq()[i])) << name;
  }
  EXPECT_TRUE(bitwise_equal(a.state.rng_state, b.state.rng_state));
}

}  // namespace locsweep::testing
