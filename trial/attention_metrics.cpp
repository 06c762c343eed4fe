#include "trial/attention_metrics.hpp"

#include <algorithm>
#include <cmath>
#include <string>

#include "common/error.hpp"

namespace locsweep {

void add_head_attention(HeadMetricSums& sums, std::span<const double> a,
                        std::span<const int64_t> blocks) {
  const auto T = static_cast<int64_t>(blocks.size());
  if (a.size() != blocks.size() * blocks.size())
    throw Error("attention metrics: " + std::to_string(a.size()) + " attention weights for " +
                std::to_string(T) + " positions (expected T x T)");
  for (int64_t i = 0; i < T; ++i) {
    const double* row = a.data() + i * T;
    double entropy = 0, in_block = 0, distance = 0;
    for (int64_t j = 0; j < T; ++j) {
      const double v = row[j];
      if (v > 0) entropy -= v * std::log2(v);
      if (blocks[static_cast<size_t>(i)] == blocks[static_cast<size_t>(j)]) in_block += v;
      distance += v * static_cast<double>(std::max<int64_t>(i - j, 0));
    }
    sums.entropy += entropy;
    sums.in_block += in_block;
    sums.distance += distance;
    sums.queries += 1;
    if (i >= 1) {
      sums.entropy_norm += entropy / std::log2(static_cast<double>(i + 1));
      sums.queries_norm += 1;
    }
  }
}

AttentionMetricsAccumulator::AttentionMetricsAccumulator(int64_t n_layer, int64_t n_head,
                                                         std::vector<double> lambdas)
    : n_layer_(n_layer),
      n_head_(n_head),
      lambdas_(std::move(lambdas)),
      sums_(static_cast<size_t>(n_layer * n_head)) {}

void AttentionMetricsAccumulator::add(int64_t layer, int64_t head, std::span<const double> a,
                                      std::span<const int64_t> blocks) {
  if (layer < 0 || layer >= n_layer_ || head < 0 || head >= n_head_)
    throw Error("attention metrics: layer " + std::to_string(layer) + " head " +
                std::to_string(head) + " outside " + std::to_string(n_layer_) + " x " +
                std::to_string(n_head_));
  add_head_attention(sums_[static_cast<size_t>(layer * n_head_ + head)], a, blocks);
}

std::vector<HeadMetrics> AttentionMetricsAccumulator::result() const {
  std::vector<HeadMetrics> out;
  for (int64_t l = 0; l < n_layer_; ++l) {
    const auto* layer = &sums_[static_cast<size_t>(l * n_head_)];
    const bool any =
        std::any_of(layer, layer + n_head_, [](const HeadMetricSums& s) { return s.queries > 0; });
    if (!any) continue;
    for (int64_t h = 0; h < n_head_; ++h) {
      const HeadMetricSums& s = layer[h];
      HeadMetrics m;
      m.layer = static_cast<int>(l);
      m.head = static_cast<int>(h);
      m.lambda = lambdas_.empty() ? 0.0 : lambdas_[static_cast<size_t>(l)];
      const auto mean = [](double sum, double n) { return n > 0 ? sum / n : 0.0; };
      m.entropy_bits = mean(s.entropy, s.queries);
      m.entropy_norm = mean(s.entropy_norm, s.queries_norm);
      m.in_block_mass = mean(s.in_block, s.queries);
      m.mean_distance = mean(s.distance, s.queries);
      out.push_back(m);
    }
  }
  return out;
}

}  // namespace locsweep
