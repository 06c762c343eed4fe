// The attention metrics of ../shared/SPEC.md ("Metrics"), the one implementation: torch-free,
// over one head's attention as a row-major [T, T] matrix (query i is row i, key j column j)
// and the block id B(i) of each position. Used by the trainer at evaluation time
// (worker/metrics.hpp copies a head's attention to CPU doubles) and by the reader of a
// recorded attention file (trial/attention_reader.hpp). Per query row i:
//   entropy       H_i = -sum_j a_ij log2 a_ij  (0 log 0 = 0), in bits
//   entropy_norm  H_i / log2(i + 1), over queries i >= 1 (the first has one key, no choice)
//   in-block mass sum_j a_ij [B(i) = B(j)]
//   mean distance sum_j a_ij max(i - j, 0)
// and a head's metric is the mean over all its query rows (of every window added).
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "trial/trial_result.hpp"

namespace locsweep {

// Sums over the query rows of one head, and the counts they are means of.
struct HeadMetricSums {
  double entropy = 0, entropy_norm = 0, in_block = 0, distance = 0;
  double queries = 0, queries_norm = 0;
};

// Adds every query row of one head's attention `a` ([T, T] row-major, T = blocks.size()) to
// `sums`. Throws Error when a.size() != T * T.
void add_head_attention(HeadMetricSums& sums, std::span<const double> a,
                        std::span<const int64_t> blocks);

// Per layer and head: the sums of every window added, and the means as HeadMetrics.
class AttentionMetricsAccumulator {
 public:
  // lambdas: lambda_l per layer, copied into the result (empty: 0).
  AttentionMetricsAccumulator(int64_t n_layer, int64_t n_head, std::vector<double> lambdas);
  void add(int64_t layer, int64_t head, std::span<const double> a, std::span<const int64_t> blocks);
  // One entry per (layer, head) of every layer something was added to, layer-major.
  std::vector<HeadMetrics> result() const;

 private:
  int64_t n_layer_, n_head_;
  std::vector<double> lambdas_;
  std::vector<HeadMetricSums> sums_;  // [layer * n_head + head]
};

}  // namespace locsweep
