// The fused attention path (worker/model.cpp: at::scaled_dot_product_attention, LibTorch >= 2.0)
// against the explicit softmax(q k^T / sqrt(D) + bias) path, for every mechanism: same loss,
// logits and gradients to float32 rounding, and the fused kernel really is the one in the
// autograd graph (and is not, where the weights are needed). Skipped on LibTorch 1.13.
#include <gtest/gtest.h>
#include <torch/version.h>

#include <functional>
#include <string>
#include <unordered_set>
#include <vector>

#include "worker/model.hpp"
#include "worker_test_support.hpp"

namespace locsweep {
namespace {

constexpr int64_t kLayers = 3, kHeads = 4, kEmbd = 32, kVocab = 37, kBatch = 2, kT = 24;

constexpr const char* kNoSdpa = "LibTorch " TORCH_VERSION
                                " has no at::scaled_dot_product_attention (>= 2.0): every layer "
                                "takes the explicit path";

Gpt2 random_model(uint64_t seed) {
  return testing::random_model({.n_layer = kLayers,
                                .n_head = kHeads,
                                .n_embd = kEmbd,
                                .block_size = kT,
                                .vocab_size = kVocab},
                               seed);
}

struct Inputs {
  torch::Tensor idx, targets, blocks;
};

Inputs make_inputs() {
  auto gen = at::make_generator<at::CPUGeneratorImpl>(11);
  Inputs in;
  in.idx = at::randint(kVocab, {kBatch, kT}, gen, torch::kInt64);
  in.targets = at::randint(kVocab, {kBatch, kT}, gen, torch::kInt64);
  // Blocks of 1 to 6 tokens, different in the two rows.
  in.blocks = (torch::arange(kT, torch::kInt64) / 5).unsqueeze(0).repeat({kBatch, 1});
  in.blocks[1] = torch::arange(kT, torch::kInt64) / 3;
  return in;
}

struct Pass {
  ForwardOutput out;
  std::vector<torch::Tensor> grads;
  std::unordered_set<std::string> nodes;  // names of the autograd nodes behind the loss
};

// Every node name reachable from `root` in the autograd graph.
std::unordered_set<std::string> graph_nodes(const torch::Tensor& root) {
  std::unordered_set<std::string> names;
  std::unordered_set<const torch::autograd::Node*> seen;
  std::function<void(const std::shared_ptr<torch::autograd::Node>&)> visit =
      [&](const std::shared_ptr<torch::autograd::Node>& node) {
        if (!node || !seen.insert(node.get()).second) return;
        names.insert(node->name());
        for (const auto& edge : node->next_edges()) visit(edge.function);
      };
  visit(root.grad_fn());
  return names;
}

bool has_fused_node(const Pass& p) {
  for (const auto& n : p.nodes)
    if (n.find("ScaledDotProduct") != std::string::npos) return true;
  return false;
}

Pass run(const Gpt2& model, const Inputs& in, const Locality& loc, bool explicit_attention,
         bool want_attention = false) {
  ForwardOptions opts;
  opts.want_logits = true;
  opts.want_attention = want_attention;
  opts.explicit_attention = explicit_attention;
  Pass r;
  r.out = model.forward(in.idx, in.targets, in.blocks, loc, opts);
  const auto total = r.out.loss + r.out.penalty;
  r.nodes = graph_nodes(total);
  for (const auto& p : model.parameters()) p.tensor.mutable_grad().reset();
  total.backward();
  for (const auto& p : model.parameters()) r.grads.push_back(p.tensor.grad().clone());
  return r;
}

struct Case {
  const char* name;
  Mechanism mechanism;
  std::vector<double> lambdas;
  double theta = 1.0;
};

// Every mechanism at a schedule with a zero layer (plain causal: the is_causal form) and two
// nonzero ones; mask with one layer below theta (soft bias) and one at it (-inf outside).
const Case kCases[] = {
    {"none", Mechanism::none, {0, 0, 0}},         {"window", Mechanism::window, {0, 0.5, 1}},
    {"block", Mechanism::block, {0, 0.5, 1}},     {"mask", Mechanism::mask, {0, 0.25, 1}, 0.5},
    {"penalty", Mechanism::penalty, {0, 0.5, 1}},
};

class FusedAttention : public ::testing::TestWithParam<Case> {};

// Tolerance: float32 rounding of a different summation order, on values of order 1 (loss ~3.6,
// logits ~1, gradients ~1e-2): 1e-5 relative plus 1e-6 absolute.
TEST_P(FusedAttention, MatchesTheExplicitPath) {
  if (!fused_attention_available()) {
    GTEST_SKIP() << kNoSdpa;
  }
  const Case& c = GetParam();
  Locality loc;
  loc.mechanism = c.mechanism;
  loc.lambdas = c.lambdas;
  loc.theta = c.theta;
  const Gpt2 model = random_model(21);
  const Inputs in = make_inputs();
  const Pass fused = run(model, in, loc, /*explicit_attention=*/false);
  const Pass plain = run(model, in, loc, /*explicit_attention=*/true);

  EXPECT_TRUE(has_fused_node(fused)) << "the fused kernel is not in the graph";
  EXPECT_FALSE(has_fused_node(plain));
  EXPECT_NEAR(fused.out.loss.item<double>(), plain.out.loss.item<double>(), 1e-5);
  EXPECT_NEAR(fused.out.penalty.item<double>(), plain.out.penalty.item<double>(), 1e-6);
  EXPECT_TRUE(torch::allclose(fused.out.logits, plain.out.logits, 1e-5, 1e-5));
  for (size_t i = 0; i < fused.grads.size(); ++i)
    EXPECT_TRUE(torch::allclose(fused.grads[i], plain.grads[i], 1e-4, 1e-6))
        << model.parameters()[i].name << ": max difference "
        << (fused.grads[i] - plain.grads[i]).abs().max().item<double>();
  if (c.mechanism == Mechanism::penalty) {
    EXPECT_GT(fused.out.penalty.item<double>(), 0.0);
  }
}

INSTANTIATE_TEST_SUITE_P(AllMechanisms, FusedAttention, ::testing::ValuesIn(kCases),
                         [](const ::testing::TestParamInfo<Case>& info) {
                           return std::string(info.param.name);
                         });

// Where the weights are needed (metrics ask for them) every layer takes the explicit path.
TEST(FusedAttentionUse, NotUsedWhenTheWeightsAreAsked) {
  if (!fused_attention_available()) {
    GTEST_SKIP() << kNoSdpa;
  }
  const Gpt2 model = random_model(22);
  Locality loc;
  loc.mechanism = Mechanism::window;
  loc.lambdas = {0, 0.5, 1};
  const Pass r = run(model, make_inputs(), loc, false, /*want_attention=*/true);
  EXPECT_FALSE(has_fused_node(r));
  EXPECT_EQ(r.out.attention.size(), static_cast<size_t>(kLayers));
}

// The penalty needs the weights of layers with lambda_l != 0 only; the zero layer is fused.
TEST(FusedAttentionUse, PenaltyFusesOnlyItsZeroLayers) {
  if (!fused_attention_available()) {
    GTEST_SKIP() << kNoSdpa;
  }
  const Gpt2 model = random_model(23);
  Locality loc;
  loc.mechanism = Mechanism::penalty;
  loc.lambdas = {0.5, 0.5, 1};
  EXPECT_FALSE(has_fused_node(run(model, make_inputs(), loc, false)));
  loc.lambdas = {0, 0.5, 1};
  EXPECT_TRUE(has_fused_node(run(model, make_inputs(), loc, false)));
}

}  // namespace
}  // namespace locsweep
