// Training batches and validation windows (worker/batches.hpp): the batch of a step is a
// pure function of (seed, step) with windows inside the token stream; the validation
// windows predict every validation token exactly once.
#include <gtest/gtest.h>

#include <numeric>
#include <set>
#include <vector>

#include "common/error.hpp"
#include "worker/batches.hpp"

namespace locsweep {
namespace {

// Tokens equal to their positions, so a window's first token tells where it starts.
std::vector<int32_t> positions(int32_t n) {
  std::vector<int32_t> t(static_cast<size_t>(n));
  std::iota(t.begin(), t.end(), 0);
  return t;
}

TEST(TrainingBatch, IsAPureFunctionOfSeedAndStep) {
  const auto tokens = positions(1000);
  const Batch a = training_batch(tokens, 8, 16, 3, 17);
  const Batch b = training_batch(tokens, 8, 16, 3, 17);
  EXPECT_TRUE(torch::equal(a.x, b.x));
  EXPECT_TRUE(torch::equal(a.y, b.y));
  // Asking for other steps in between changes nothing (no hidden stream state).
  for (int s = 0; s < 5; ++s) (void)training_batch(tokens, 8, 16, 3, s);
  EXPECT_TRUE(torch::equal(training_batch(tokens, 8, 16, 3, 17).x, a.x));
  EXPECT_FALSE(torch::equal(training_batch(tokens, 8, 16, 3, 18).x, a.x));
  EXPECT_FALSE(torch::equal(training_batch(tokens, 8, 16, 4, 17).x, a.x));
}

TEST(TrainingBatch, WindowsAreContiguousInRangeAndShiftedByOne) {
  const int64_t B = 16, T = 10;
  const auto tokens = positions(50);
  std::set<int64_t> starts;
  for (int64_t step = 0; step < 200; ++step) {
    const Batch b = training_batch(tokens, B, T, 9, step);
    ASSERT_EQ(b.x.sizes(), (std::vector<int64_t>{B, T}));
    ASSERT_EQ(b.y.sizes(), (std::vector<int64_t>{B, T}));
    ASSERT_EQ(b.x.scalar_type(), torch::kInt64);
    for (int64_t r = 0; r < B; ++r) {
      const int64_t start = b.x[r][0].item<int64_t>();
      ASSERT_GE(start, 0);
      ASSERT_LE(start + T + 1, 50);  // the last target is a real token
      for (int64_t t = 0; t < T; ++t) {
        ASSERT_EQ(b.x[r][t].item<int64_t>(), start + t);
        ASSERT_EQ(b.y[r][t].item<int64_t>(), start + t + 1);
      }
      starts.insert(start);
    }
  }
  // Every possible start (0 .. n - T - 1) is drawn sooner or later.
  EXPECT_EQ(starts.size(), 50u - 10u);
}

TEST(TrainingBatch, ShortestStreamHasOneStartAndShorterThrows) {
  const auto tokens = positions(9);
  const Batch b = training_batch(tokens, 4, 8, 1, 0);  // n = T + 1: only start 0
  for (int64_t r = 0; r < 4; ++r) EXPECT_EQ(b.x[r][0].item<int64_t>(), 0);
  EXPECT_THROW(training_batch(positions(8), 4, 8, 1, 0), Error);
}

struct CoverCase {
  int64_t n_tokens, block_size;
};

class ValidationWindows : public ::testing::TestWithParam<CoverCase> {};

TEST_P(ValidationWindows, PredictEveryValidationTokenExactlyOnce) {
  const auto [n, T] = GetParam();
  const auto windows = validation_windows(n, T);
  std::vector<int> predicted(static_cast<size_t>(n), 0);  // predicted[k]: times token k is a target
  for (size_t i = 0; i < windows.size(); ++i) {
    const auto& w = windows[i];
    ASSERT_GT(w.length, 0);
    ASSERT_LE(w.length, T);
    if (i + 1 < windows.size()) {
      EXPECT_EQ(w.length, T) << "only the last window may be short";
    }
    ASSERT_GE(w.start, 0);
    ASSERT_LE(w.start + w.length + 1, n);
    for (int64_t t = 0; t < w.length; ++t) ++predicted[static_cast<size_t>(w.start + t + 1)];
  }
  EXPECT_EQ(predicted[0], 0);  // the first token has no context: it is never a target
  for (int64_t k = 1; k < n; ++k) EXPECT_EQ(predicted[static_cast<size_t>(k)], 1) << "token " << k;

  // window_batch turns each group of equal-length windows into inputs and next tokens.
  const auto tokens = positions(static_cast<int32_t>(n));
  std::vector<Window> full;
  for (const auto& w : windows)
    if (w.length == windows.front().length) full.push_back(w);
  const Batch b = window_batch(tokens, full);
  for (size_t r = 0; r < full.size(); ++r)
    for (int64_t t = 0; t < full[r].length; ++t) {
      EXPECT_EQ(b.x[static_cast<int64_t>(r)][t].item<int64_t>(), full[r].start + t);
      EXPECT_EQ(b.y[static_cast<int64_t>(r)][t].item<int64_t>(), full[r].start + t + 1);
    }
}

INSTANTIATE_TEST_SUITE_P(Table, ValidationWindows,
                         ::testing::Values(CoverCase{10, 3}, CoverCase{10, 9}, CoverCase{10, 10},
                                           CoverCase{11, 5}, CoverCase{2, 64}, CoverCase{1000, 64},
                                           CoverCase{1025, 64}, CoverCase{1024, 64}));

TEST(ValidationWindows, NothingToPredictInOneToken) {
  EXPECT_TRUE(validation_windows(1, 8).empty());
  EXPECT_TRUE(validation_windows(0, 8).empty());
}

TEST(WindowBatch, RejectsUnequalLengths) {
  const auto tokens = positions(40);
  EXPECT_THROW(window_batch(tokens, {{0, 8}, {8, 4}}), Error);
}

}  // namespace
}  // namespace locsweep
