// Attention metrics per layer and head (../shared/SPEC.md, "Metrics"), accumulated over
// validation batches: entropy in bits (raw, and normalised by log2(i + 1) over queries
// i >= 1, since the first query has one key and no choice), in-block mass, mean distance.
#pragma once

#include <torch/torch.h>

#include <vector>

#include "trial/trial_result.hpp"

namespace locsweep {

class AttentionMetrics {
 public:
  AttentionMetrics(int64_t n_layer, int64_t n_head, std::vector<double> lambdas);
  // attention: [B, H, T, T] of `layer`; blocks: [B, T] int64 (any device).
  void add(int64_t layer, const torch::Tensor& attention, const torch::Tensor& blocks);
  std::vector<HeadMetrics> result() const;

 private:
  int64_t n_layer_, n_head_;
  std::vector<double> lambdas_;
  // Per layer: [H] sums over queries and the counts they are means of.
  std::vector<torch::Tensor> entropy_, entropy_norm_, mass_, distance_;
  std::vector<double> queries_, queries_norm_;
};

}  // namespace locsweep
