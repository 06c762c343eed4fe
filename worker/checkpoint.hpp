// HDF5 checkpoints: everything needed to continue a trial bitwise identically.
//
// Layout (documented in docs/data-formats.md; h5py reads it):
//   /                      attrs: format="locsweep-checkpoint", version=1, trial_hash,
//                          config (JSON), step, threads, checksum (SHA-256, see below)
//   /model/<hf name>       float32 parameters, Hugging Face names ("h.0.attn.c_attn.weight")
//   /optimizer/exp_avg/<hf name>, /optimizer/exp_avg_sq/<hf name>   float32 AdamW moments
//   /rng/dropout           uint8: the dropout generator's state
//   /train/recent_loss     float64: the last training losses (for the reported train loss)
// The data position needs no entry: the batch of step s is a function of (seed, s).
//
// Written atomically: a temporary file beside the target, flushed, fsynced, renamed over it.
// The checksum covers every dataset's name and bytes and the config and step; load verifies
// it, so a corrupt or truncated file is reported and never loaded. Reading goes through
// trial/checkpoint_reader.hpp (torch-free, validated: a hostile file is an error, never a
// crash).
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "common/error.hpp"
#include "trial/checkpoint_reader.hpp"
#include "worker/adamw.hpp"
#include "worker/model.hpp"

namespace locsweep {

struct TrainingState {
  int64_t step = 0;                 // optimiser steps done
  torch::Tensor rng_state;          // uint8, the dropout generator's state
  std::vector<double> recent_loss;  // last training losses, oldest first
};

struct CheckpointInfo {
  int64_t bytes = 0;  // the file's size
};

// Writes the checkpoint (atomically, see above). The data is hashed once, for the embedded
// checksum; the SHA-256 of the file's bytes, which only the artifacts table needs, is not
// computed here: a trial hashes its final checkpoint once, when it records it as an artifact
// (worker/trial.cpp), not on every periodic save.
CheckpointInfo save_checkpoint(const std::filesystem::path& path, const std::string& trial_hash,
                               const std::string& config_json, int threads, const Gpt2& model,
                               AdamW& optimizer, const TrainingState& state);

// Restores model, optimizer and state from `path`. Throws CorruptFileError (an InputError)
// for a damaged or hostile file and a plain InputError for a checkpoint of another trial or
// model shape; in both cases nothing has been modified.
TrainingState load_checkpoint(const std::filesystem::path& path, const std::string& trial_hash,
                              Gpt2& model, AdamW& optimizer);

// What a checkpoint of `model` holds, in checksum order (the /model, /optimizer/exp_avg and
// /optimizer/exp_avg_sq datasets in parameter order, then /rng/dropout, /train/recent_loss).
std::vector<CheckpointDataset> checkpoint_layout(const Gpt2& model);

// Copies only the model parameters of a checkpoint (any trial with the same shapes):
// `model.init: checkpoint:<file>`.
void load_model_from_checkpoint(const std::filesystem::path& path, Gpt2& model);

}  // namespace locsweep
