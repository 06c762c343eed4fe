// The fused LM-head cross-entropy (worker/lm_head_loss.hpp) against the plain composition
// at::cross_entropy(x @ w^T, targets), in value and in gradients w.r.t. x and w, for chunk
// sizes that divide the rows, that do not, of one row, and larger than all rows.
#include <gtest/gtest.h>

#include <string>

#include "worker/lm_head_loss.hpp"

namespace locsweep {
namespace {

struct Shape {
  int64_t n, c, v, chunk_rows;  // rows, width, vocabulary, rows per chunk (0: default)
};

class LinearCrossEntropy : public ::testing::TestWithParam<Shape> {};

struct Inputs {
  torch::Tensor x, w, targets;
};

Inputs make(const Shape& s, uint64_t seed) {
  auto gen = at::make_generator<at::CPUGeneratorImpl>(seed);
  Inputs in;
  in.x = at::normal(0.0, 1.0, {s.n, s.c}, gen).requires_grad_(true);
  in.w = at::normal(0.0, 0.5, {s.v, s.c}, gen).requires_grad_(true);
  in.targets = at::randint(s.v, {s.n}, gen, torch::kInt64);
  return in;
}

TEST_P(LinearCrossEntropy, MatchesCrossEntropyOfTheLogitsInValueAndGradients) {
  const Shape s = GetParam();
  const Inputs ours = make(s, 1), ref = make(s, 1);

  const auto loss = linear_cross_entropy(ours.x, ours.w, ours.targets, s.chunk_rows);
  const auto expected = at::cross_entropy_loss(ref.x.mm(ref.w.t()), ref.targets);
  EXPECT_EQ(loss.dim(), 0);
  EXPECT_NEAR(loss.item<double>(), expected.item<double>(), 1e-5 * expected.item<double>());

  loss.backward();
  expected.backward();
  ASSERT_TRUE(ours.x.grad().defined());
  ASSERT_TRUE(ours.w.grad().defined());
  EXPECT_TRUE(torch::allclose(ours.x.grad(), ref.x.grad(), 1e-4, 1e-7))
      << (ours.x.grad() - ref.x.grad()).abs().max().item<double>();
  EXPECT_TRUE(torch::allclose(ours.w.grad(), ref.w.grad(), 1e-4, 1e-7))
      << (ours.w.grad() - ref.w.grad()).abs().max().item<double>();
}

// The loss inside a larger expression: backward scales the saved gradients by the upstream
// gradient (here 3, and through the penalty-style sum with another term).
TEST_P(LinearCrossEntropy, ScalesGradientsByTheUpstreamGradient) {
  const Shape s = GetParam();
  const Inputs ours = make(s, 2), ref = make(s, 2);
  (linear_cross_entropy(ours.x, ours.w, ours.targets, s.chunk_rows) * 3.0 + ours.x.sum())
      .backward();
  (at::cross_entropy_loss(ref.x.mm(ref.w.t()), ref.targets) * 3.0 + ref.x.sum()).backward();
  EXPECT_TRUE(torch::allclose(ours.x.grad(), ref.x.grad(), 1e-4, 1e-6));
  EXPECT_TRUE(torch::allclose(ours.w.grad(), ref.w.grad(), 1e-4, 1e-6));
}

// Evaluation: without grad mode (or without inputs that need grad) only the value is computed.
TEST_P(LinearCrossEntropy, NoGradPathGivesTheSameValue) {
  const Shape s = GetParam();
  const Inputs in = make(s, 3);
  const auto expected = at::cross_entropy_loss(in.x.mm(in.w.t()), in.targets).item<double>();
  {
    torch::NoGradGuard no_grad;
    const auto loss = linear_cross_entropy(in.x, in.w, in.targets, s.chunk_rows);
    EXPECT_FALSE(loss.requires_grad());
    EXPECT_NEAR(loss.item<double>(), expected, 1e-5 * expected);
  }
  const auto detached =
      linear_cross_entropy(in.x.detach(), in.w.detach(), in.targets, s.chunk_rows);
  EXPECT_FALSE(detached.requires_grad());
  EXPECT_NEAR(detached.item<double>(), expected, 1e-5 * expected);
  // Only the evaluation path is allowed to leave the inputs' gradients alone.
  EXPECT_FALSE(in.x.grad().defined());
}

// Chunking does not change the result beyond float rounding.
TEST_P(LinearCrossEntropy, ChunkSizeDoesNotMatter) {
  const Shape s = GetParam();
  const Inputs a = make(s, 4), b = make(s, 4);
  const auto la = linear_cross_entropy(a.x, a.w, a.targets, s.chunk_rows);
  const auto lb = linear_cross_entropy(b.x, b.w, b.targets, s.n);  // one chunk
  EXPECT_NEAR(la.item<double>(), lb.item<double>(), 1e-6 * lb.item<double>());
  la.backward();
  lb.backward();
  EXPECT_TRUE(torch::allclose(a.w.grad(), b.w.grad(), 1e-5, 1e-7));
}

INSTANTIATE_TEST_SUITE_P(Chunks, LinearCrossEntropy,
                         ::testing::Values(Shape{12, 8, 11, 4},   // chunk divides N
                                           Shape{13, 8, 11, 4},   // it does not: a short last chunk
                                           Shape{10, 8, 11, 1},   // one row at a time
                                           Shape{10, 8, 11, 10},  // exactly one chunk
                                           Shape{5, 4, 9, 100},   // chunk larger than N
                                           Shape{37, 16, 50, 0},  // the default chunk
                                           Shape{1, 3, 7, 0},     // a single row
                                           Shape{300, 24, 1000, 7}
                                           // many chunks, larger vocabulary
                                           ),
                         [](const ::testing::TestParamInfo<Shape>& info) {
                           const Shape& s = info.param;
                           return "N" + std::to_string(s.n) + "C" + std::to_string(s.c) + "V" +
                                  std::to_string(s.v) + "chunk" + std::to_string(s.chunk_rows);
                         });

}  // namespace
}  // namespace locsweep
