// The attention metrics (trial/attention_metrics.hpp, SPEC.md "Metrics") on matrices small
// enough to compute by hand, and the accumulator's means over windows and layers.
#include "trial/attention_metrics.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "common/error.hpp"

namespace locsweep {
namespace {

// Rows: one-hot, uniform over two keys, and (1/4, 1/4, 1/2); blocks {0, 0, 1}.
const std::vector<double> kA = {1, 0, 0, 0.5, 0.5, 0, 0.25, 0.25, 0.5};
const std::vector<int64_t> kBlocks = {0, 0, 1};

TEST(AttentionMetrics, SumsOfOneHeadAreTheFormulasRowByRow) {
  HeadMetricSums s;
  add_head_attention(s, kA, kBlocks);
  EXPECT_EQ(s.queries, 3);
  EXPECT_EQ(s.queries_norm, 2);              // the first query has no choice
  EXPECT_DOUBLE_EQ(s.entropy, 0 + 1 + 1.5);  // bits; 0 log 0 = 0
  EXPECT_DOUBLE_EQ(s.entropy_norm, 1 / 1.0 + 1.5 / std::log2(3.0));
  EXPECT_DOUBLE_EQ(s.in_block, 1 + 1 + 0.5);  // row 2's block is {2}
  EXPECT_DOUBLE_EQ(s.distance, 0 + 0.5 * 1 + (0.25 * 2 + 0.25 * 1));
}

TEST(AttentionMetrics, AccumulatorAveragesOverEveryRowOfEveryWindow) {
  AttentionMetricsAccumulator acc(2, 2, {0.25, 1.0});
  // Layer 1, head 0: the matrix above and the identity (entropy 0, mass 1, distance 0).
  acc.add(1, 0, kA, kBlocks);
  acc.add(1, 0, std::vector<double>{1, 0, 0, 0, 1, 0, 0, 0, 1}, kBlocks);
  const auto heads = acc.result();
  ASSERT_EQ(heads.size(), 2u) << "layer 0 saw nothing: left out";
  const HeadMetrics& m = heads[0];
  EXPECT_EQ(m.layer, 1);
  EXPECT_EQ(m.head, 0);
  EXPECT_EQ(m.lambda, 1.0);
  EXPECT_DOUBLE_EQ(m.entropy_bits, 2.5 / 6);
  EXPECT_DOUBLE_EQ(m.entropy_norm, (1 + 1.5 / std::log2(3.0)) / 4);
  EXPECT_DOUBLE_EQ(m.in_block_mass, (2.5 + 3) / 6);
  EXPECT_DOUBLE_EQ(m.mean_distance, 1.25 / 6);
  EXPECT_EQ(heads[1].head, 1);  // nothing added: zeros, not NaN
  EXPECT_EQ(heads[1].entropy_bits, 0.0);
}

TEST(AttentionMetrics, UniformCausalAttentionHasNormalisedEntropyOne) {
  const int64_t T = 8;
  std::vector<double> a(T * T, 0.0);
  for (int64_t i = 0; i < T; ++i)
    for (int64_t j = 0; j <= i; ++j) a[static_cast<size_t>(i * T + j)] = 1.0 / (i + 1);
  HeadMetricSums s;
  add_head_attention(s, a, std::vector<int64_t>(T, 0));
  EXPECT_NEAR(s.entropy_norm / s.queries_norm, 1.0, 1e-12);
  EXPECT_NEAR(s.in_block / s.queries, 1.0, 1e-12);
}

TEST(AttentionMetrics, RefusesAMatrixOfTheWrongSize) {
  HeadMetricSums s;
  EXPECT_THROW(add_head_attention(s, std::vector<double>(4, 0.25), kBlocks), Error);
  AttentionMetricsAccumulator acc(1, 1, {});
  EXPECT_THROW(acc.add(1, 0, kA, kBlocks), Error);
}

}  // namespace
}  // namespace locsweep
