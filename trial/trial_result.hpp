// What one trial attempt reports: its status, validation metrics, per-layer/head attention
// metrics and artifacts. Plain data with a JSON form; no torch, so the orchestrator and
// the results store can use it without paying for torch headers.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "trial/outcome.hpp"

namespace locsweep {

// SPEC.md "Metrics", per layer and head, on the validation windows.
struct HeadMetrics {
  int layer = 0;
  int head = 0;
  double lambda = 0;         // the schedule's value for this layer
  double entropy_bits = 0;   // mean over queries of -sum_j a_ij log2 a_ij
  double entropy_norm = 0;   // the same, each query's entropy divided by log2(i + 1)
  double in_block_mass = 0;  // mean over queries of sum_{j in B(i)} a_ij
  double mean_distance = 0;  // mean over queries of sum_j a_ij (i - j)
};

struct Artifact {
  std::string kind;  // checkpoint | attention | safetensors
  std::string path;
  int64_t bytes = 0;
  std::string sha256;
};

struct TrialResult {
  Outcome outcome = Outcome::done;
  std::string message;     // why it failed; empty when done
  int steps_done = 0;      // optimiser steps completed (including resumed ones)
  int resumed_from = 0;    // step of the checkpoint this attempt started from (0: fresh)
  double train_loss = 0;   // mean training loss (penalty excluded) over the last steps
  double val_loss = 0;     // token-weighted mean NLL over all validation tokens
  double val_ppl = 0;      // exp(val_loss)
  int64_t val_tokens = 0;  // predicted validation tokens
  double seconds = 0;      // wall time of this attempt
  double train_tokens_per_s = 0;
  std::string device;  // "cpu (2 threads)" / "cuda:0 (NVIDIA H100)"
  std::vector<HeadMetrics> heads;
  std::vector<Artifact> artifacts;
};

nlohmann::json to_json(const TrialResult& result);
TrialResult trial_result_from_json(const nlohmann::json& json);  // throws InputError

}  // namespace locsweep
