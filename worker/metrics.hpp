// Attention metrics per layer and head, accumulated over validation batches: the torch side
// of trial/attention_metrics.hpp (the formulas, SPEC.md "Metrics"), which it feeds with each
// head's attention copied to CPU doubles. Evaluation only: a few windows (eval.windows).
#pragma once

#include <torch/torch.h>

#include <vector>

#include "trial/attention_metrics.hpp"
#include "trial/trial_result.hpp"

namespace locsweep {

class AttentionMetrics {
 public:
  AttentionMetrics(int64_t n_layer, int64_t n_head, std::vector<double> lambdas);
  // attention: [B, H, T, T] of `layer`; blocks: [B, T] integer (any device).
  void add(int64_t layer, const torch::Tensor& attention, const torch::Tensor& blocks);
  std::vector<HeadMetrics> result() const { return sums_.result(); }

 private:
  AttentionMetricsAccumulator sums_;
};

}  // namespace locsweep
