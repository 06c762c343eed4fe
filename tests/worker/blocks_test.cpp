// Blocks B(i) (worker/blocks.hpp), table-driven: sentence blocks from a table of
// sentence-ending tokens, fixed:N, and adaptive merging of neighbouring sentences by the
// cosine similarity of their mean input embeddings.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "worker/blocks.hpp"

namespace locsweep {
namespace {

using Ids = std::vector<int64_t>;

torch::Tensor row(const Ids& ids) {
  return torch::tensor(ids, torch::kInt64).view({1, -1});
}

Ids to_ids(const torch::Tensor& t) {
  const auto c = t.contiguous();
  return Ids(c.data_ptr<int64_t>(), c.data_ptr<int64_t>() + c.numel());
}

// Vocabulary of 10: tokens 3 and 7 end sentences, token 9 is out of the table.
std::vector<uint8_t> ends_table() {
  std::vector<uint8_t> t(9, 0);
  t[3] = t[7] = 1;
  return t;
}

struct BlockCase {
  std::string name;
  std::string spec;
  Ids tokens;
  Ids expected;
};

class Blocks : public ::testing::TestWithParam<BlockCase> {};

TEST_P(Blocks, FromTable) {
  const auto& c = GetParam();
  const auto ids =
      block_ids(row(c.tokens), BlockSpec::parse(c.spec), ends_table(), torch::Tensor());
  EXPECT_EQ(ids.scalar_type(), torch::kInt64);
  EXPECT_EQ(ids.sizes(), (std::vector<int64_t>{1, static_cast<int64_t>(c.tokens.size())}));
  EXPECT_EQ(to_ids(ids), c.expected);
}

INSTANTIATE_TEST_SUITE_P(
    SentenceAndFixed, Blocks,
    ::testing::Values(
        // A block ends AFTER a sentence-ending token.
        BlockCase{"sentence_basic", "sentence", {1, 3, 2, 2, 7, 1}, {0, 0, 1, 1, 1, 2}},
        BlockCase{"sentence_none_ends", "sentence", {1, 2, 4, 5}, {0, 0, 0, 0}},
        BlockCase{"sentence_first_token_ends", "sentence", {3, 1, 1}, {0, 1, 1}},
        BlockCase{"sentence_consecutive_ends", "sentence", {3, 7, 3, 1}, {0, 1, 2, 3}},
        BlockCase{"sentence_last_token_ends", "sentence", {1, 1, 7}, {0, 0, 0}},
        BlockCase{"sentence_unknown_id_never_ends", "sentence", {9, 9, 3, 9}, {0, 0, 0, 1}},
        BlockCase{"fixed_3", "fixed:3", {1, 3, 2, 2, 7, 1, 1}, {0, 0, 0, 1, 1, 1, 2}},
        BlockCase{"fixed_1", "fixed:1", {1, 3, 2, 2}, {0, 1, 2, 3}},
        BlockCase{"fixed_longer_than_window", "fixed:16", {1, 3, 2, 2}, {0, 0, 0, 0}},
        BlockCase{"fixed_ignores_sentences", "fixed:2", {3, 3, 3, 3, 3}, {0, 0, 1, 1, 2}}),
    [](const ::testing::TestParamInfo<BlockCase>& info) { return info.param.name; });

TEST(Blocks, IdsCountFromZeroInEveryWindow) {
  const auto tokens = torch::tensor({1, 3, 1, 3, 1, 1, 1, 3}, torch::kInt64).view({2, 4});
  const auto ids = block_ids(tokens, BlockSpec::parse("sentence"), ends_table(), torch::Tensor());
  EXPECT_EQ(to_ids(ids), (Ids{0, 0, 1, 1, 0, 0, 0, 0}));
  const auto fixed = block_ids(tokens, BlockSpec::parse("fixed:3"), ends_table(), torch::Tensor());
  EXPECT_EQ(to_ids(fixed), (Ids{0, 0, 0, 1, 0, 0, 0, 1}));
}

TEST(Blocks, SentenceEndTableFromTokenText) {
  const std::vector<std::string> texts = {"a",  ".",   " end.", "!",   "why?",
                                          "\n", "x\n", "",      ". x", "?!"};
  const auto table = sentence_end_table(
      static_cast<int>(texts.size()),
      [&](int id) -> const std::string& { return texts[static_cast<size_t>(id)]; });
  EXPECT_EQ(table, (std::vector<uint8_t>{0, 1, 1, 1, 1, 1, 1, 0, 0, 1}));
}

// Adaptive blocks with a hand-made embedding (C = 3):
//   token 1 -> e0, token 2 -> 2 e0 (parallel to 1), token 4 -> e1 (orthogonal),
//   token 5 -> e0 + e1 (45 degrees: cosine 0.707 with e0), token 3 (sentence end) -> 0,
// so each sentence's mean embedding is set by its words alone.
torch::Tensor embedding() {
  auto e = torch::zeros({10, 3});
  e[1][0] = 1;
  e[2][0] = 2;
  e[4][1] = 1;
  e[5][0] = 1;
  e[5][1] = 1;
  e[6][2] = 1;
  return e;
}

struct AdaptiveCase {
  std::string name;
  double tau;
  Ids tokens;
  Ids expected;
};

class AdaptiveBlocks : public ::testing::TestWithParam<AdaptiveCase> {};

TEST_P(AdaptiveBlocks, MergeNeighboursBySimilarity) {
  const auto& c = GetParam();
  BlockSpec spec;
  spec.kind = BlockSpec::Kind::adaptive;
  spec.tau = c.tau;
  const auto ids = block_ids(row(c.tokens), spec, ends_table(), embedding());
  EXPECT_EQ(to_ids(ids), c.expected);
}

INSTANTIATE_TEST_SUITE_P(
    Table, AdaptiveBlocks,
    ::testing::Values(
        // Sentences [1 1 3] [2 3] [4 4 3] [1 3]: the first two are parallel (merge), the third
        // is orthogonal to them (new block), the fourth orthogonal to the third (new block).
        AdaptiveCase{"parallel_merge_orthogonal_split",
                     0.9,
                     {1, 1, 3, 2, 3, 4, 4, 3, 1, 3},
                     {0, 0, 0, 0, 0, 1, 1, 1, 2, 2}},
        // tau = -1: every cosine is >= -1, so everything merges into one block.
        AdaptiveCase{"tau_minus_one_merges_all",
                     -1.0,
                     {1, 1, 3, 2, 3, 4, 4, 3, 1, 3},
                     {0, 0, 0, 0, 0, 0, 0, 0, 0, 0}},
        // tau above 1: nothing merges; the blocks are the sentence blocks.
        AdaptiveCase{"tau_above_one_keeps_sentences",
                     1.01,
                     {1, 1, 3, 2, 3, 4, 4, 3, 1, 3},
                     {0, 0, 0, 1, 1, 2, 2, 2, 3, 3}},
        // Orthogonal sentences merge only when tau <= 0.
        AdaptiveCase{"orthogonal_merge_at_tau_zero", 0.0, {1, 3, 4, 3, 6}, {0, 0, 0, 0, 0}},
        AdaptiveCase{"orthogonal_split_above_zero", 0.01, {1, 3, 4, 3, 6}, {0, 0, 1, 1, 2}},
        // 45 degrees: cosine 0.707 merges at tau 0.7, not at 0.75.
        AdaptiveCase{"angle_45_merges_at_0_7", 0.7, {1, 3, 5, 3}, {0, 0, 0, 0}},
        AdaptiveCase{"angle_45_splits_at_0_75", 0.75, {1, 3, 5, 3}, {0, 0, 1, 1}},
        // One sentence only: a single block whatever tau is.
        AdaptiveCase{"single_sentence", 0.99, {1, 2, 4, 5}, {0, 0, 0, 0}}),
    [](const ::testing::TestParamInfo<AdaptiveCase>& info) { return info.param.name; });

TEST(AdaptiveBlocks, EachWindowIsMergedOnItsOwn) {
  BlockSpec spec;
  spec.kind = BlockSpec::Kind::adaptive;
  spec.tau = 0.9;
  const auto tokens =
      torch::tensor({1, 3, 2, 3, 4, 3, 4, 3, 1, 3, 1, 3}, torch::kInt64).view({2, 6});
  const auto ids = block_ids(tokens, spec, ends_table(), embedding());
  EXPECT_EQ(to_ids(ids), (Ids{0, 0, 0, 0, 1, 1, 0, 0, 1, 1, 1, 1}));
}

TEST(Blocks, SpecParsesAndPrintsCanonically) {
  EXPECT_EQ(BlockSpec::parse("sentence").kind, BlockSpec::Kind::sentence);
  const auto fixed = BlockSpec::parse("fixed:16");
  EXPECT_EQ(fixed.kind, BlockSpec::Kind::fixed);
  EXPECT_EQ(fixed.size, 16);
  const auto adaptive = BlockSpec::parse("adaptive:0.8");
  EXPECT_EQ(adaptive.kind, BlockSpec::Kind::adaptive);
  EXPECT_EQ(adaptive.tau, 0.8);
  EXPECT_EQ(BlockSpec::parse(adaptive.canonical()), adaptive);
}

}  // namespace
}  // namespace locsweep
