// The localist GPT-2 (worker/model.hpp): every mechanism at lambda = 0 is bitwise plain
// attention; a nonzero schedule changes attention (window, block, mask) or only adds a loss
// term (penalty); mask at lambda >= theta puts exactly zero weight outside the block; the
// TrialConfig -> GptConfig/Locality mapping; input checks.
#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

#include "common/error.hpp"
#include "worker/model.hpp"
#include "worker_test_support.hpp"

namespace locsweep {
namespace {

using testing::bitwise_equal;

constexpr int64_t kLayers = 3, kHeads = 2, kEmbd = 16, kBlock = 12, kVocab = 29;
constexpr int64_t kBatch = 2, kT = 12;

GptConfig tiny_config() {
  return {.n_layer = kLayers,
          .n_head = kHeads,
          .n_embd = kEmbd,
          .block_size = kBlock,
          .vocab_size = kVocab};
}

// A model whose biases and LayerNorm parameters are not at their trivial initial values, so
// every path through the network carries signal.
Gpt2 random_model(uint64_t seed) {
  return testing::random_model(tiny_config(), seed);
}

struct Inputs {
  torch::Tensor idx, targets, blocks;
};

Inputs make_inputs(int64_t T = kT) {
  auto gen = at::make_generator<at::CPUGeneratorImpl>(7);
  Inputs in;
  in.idx = at::randint(kVocab, {kBatch, T}, gen, torch::kInt64);
  in.targets = at::randint(kVocab, {kBatch, T}, gen, torch::kInt64);
  // Blocks of 3, 4, 2, ... tokens: two different partitions in the two rows.
  in.blocks =
      torch::tensor({0, 0, 0, 1, 1, 1, 1, 2, 2, 3, 3, 3, 0, 0, 1, 1, 2, 2, 2, 2, 2, 3, 4, 4},
                    torch::kInt64)
          .view({kBatch, kT})
          .narrow(1, 0, T)
          .contiguous();
  return in;
}

struct Pass {
  ForwardOutput out;
  std::vector<torch::Tensor> grads;  // d(loss + penalty)/d param, in parameter order
};

Pass run_model(const Gpt2& model, const Inputs& in, const Locality& loc) {
  ForwardOptions opts;
  opts.want_logits = true;
  opts.want_attention = true;
  Pass r;
  r.out = model.forward(in.idx, in.targets, in.blocks, loc, opts);
  for (const auto& p : model.parameters()) p.tensor.mutable_grad().reset();
  (r.out.loss + r.out.penalty).backward();
  for (const auto& p : model.parameters()) r.grads.push_back(p.tensor.grad().clone());
  return r;
}

Locality locality(Mechanism m, std::vector<double> lambdas) {
  Locality loc;
  loc.mechanism = m;
  loc.lambdas = std::move(lambdas);
  return loc;
}

const Mechanism kAll[] = {Mechanism::none, Mechanism::window, Mechanism::block, Mechanism::mask,
                          Mechanism::penalty};

std::string mechanism_name(const ::testing::TestParamInfo<Mechanism>& info) {
  return std::string(to_string(info.param));
}

class ZeroSchedule : public ::testing::TestWithParam<Mechanism> {};

// SPEC: "at lambda_l = 0 the layer is exactly plain GPT-2 attention", for every mechanism
// and for both spellings of a zero schedule (explicit zeros, empty list).
TEST_P(ZeroSchedule, ForwardAndGradientsAreBitwiseEqualToPlainAttention) {
  const Gpt2 model = random_model(3);
  const Inputs in = make_inputs();
  const Pass plain = run_model(model, in, locality(Mechanism::none, {}));
  for (const std::vector<double>& lambdas : {std::vector<double>{0, 0, 0}, std::vector<double>{}}) {
    SCOPED_TRACE("lambdas given: " + std::to_string(lambdas.size()));
    const Pass r = run_model(model, in, locality(GetParam(), lambdas));
    EXPECT_TRUE(bitwise_equal(r.out.logits, plain.out.logits));
    EXPECT_TRUE(bitwise_equal(r.out.loss, plain.out.loss));
    EXPECT_EQ(r.out.penalty.item<double>(), 0.0);
    ASSERT_EQ(r.out.attention.size(), static_cast<size_t>(kLayers));
    for (int64_t l = 0; l < kLayers; ++l)
      EXPECT_TRUE(bitwise_equal(r.out.attention[l], plain.out.attention[l])) << "layer " << l;
    for (size_t i = 0; i < r.grads.size(); ++i)
      EXPECT_TRUE(bitwise_equal(r.grads[i], plain.grads[i])) << model.parameters()[i].name;
  }
}

INSTANTIATE_TEST_SUITE_P(AllMechanisms, ZeroSchedule, ::testing::ValuesIn(kAll), mechanism_name);

class NonzeroSchedule : public ::testing::TestWithParam<Mechanism> {};

// With lambdas (0, 0.5, 1): layer 0 is untouched; attention-changing mechanisms change
// layers 1 and 2 and the logits; penalty leaves the forward pass alone but adds a positive
// loss term (the blocks are short, so the in-block mass is below rho for most queries).
TEST_P(NonzeroSchedule, ChangesAttentionOrAddsPenalty) {
  const Gpt2 model = random_model(4);
  const Inputs in = make_inputs();
  const std::vector<double> lambdas = {0.0, 0.5, 1.0};
  const Pass plain = run_model(model, in, locality(Mechanism::none, lambdas));
  const Pass r = run_model(model, in, locality(GetParam(), lambdas));
  EXPECT_TRUE(bitwise_equal(r.out.attention[0], plain.out.attention[0]));
  if (GetParam() == Mechanism::penalty) {
    EXPECT_TRUE(bitwise_equal(r.out.logits, plain.out.logits));
    EXPECT_TRUE(bitwise_equal(r.out.loss, plain.out.loss));
    for (int64_t l = 0; l < kLayers; ++l)
      EXPECT_TRUE(bitwise_equal(r.out.attention[l], plain.out.attention[l]));
    EXPECT_GT(r.out.penalty.item<double>(), 0.0);
    // The penalty has a gradient: the attention parameters of layer 1 receive more than the loss
    // alone.
    const auto& names = model.parameters();
    bool differs = false;
    for (size_t i = 0; i < names.size(); ++i)
      if (names[i].name == "h.1.attn.c_attn.weight")
        differs = !torch::equal(r.grads[i], plain.grads[i]);
    EXPECT_TRUE(differs);
  } else {
    EXPECT_EQ(r.out.penalty.item<double>(), 0.0);
    EXPECT_FALSE(torch::equal(r.out.logits, plain.out.logits));
    EXPECT_NE(r.out.loss.item<double>(), plain.out.loss.item<double>());
    for (int64_t l = 1; l < kLayers; ++l)
      EXPECT_FALSE(torch::allclose(r.out.attention[l], plain.out.attention[l], 1e-4, 1e-6))
          << "layer " << l;
  }
  // Rows of every layer's attention still sum to 1 and are causal.
  for (const auto& a : r.out.attention) {
    EXPECT_TRUE(torch::allclose(a.sum(-1), torch::ones({kBatch, kHeads, kT}), 1e-5, 1e-5));
    EXPECT_EQ(a.triu(1).abs().max().item<float>(), 0.0f);
  }
}

INSTANTIATE_TEST_SUITE_P(LocalMechanisms, NonzeroSchedule,
                         ::testing::Values(Mechanism::window, Mechanism::block, Mechanism::mask,
                                           Mechanism::penalty),
                         mechanism_name);

// Window bias at lambda = 1 pushes attention towards near keys: the mean distance drops.
TEST(Model, WindowShortensMeanAttentionDistance) {
  const Gpt2 model = random_model(5);
  const Inputs in = make_inputs();
  const auto pos = torch::arange(kT, torch::kFloat32);
  const auto dist = (pos.unsqueeze(1) - pos.unsqueeze(0)).clamp_min(0);
  auto mean_distance = [&](const Pass& r) {
    return (r.out.attention[2] * dist).sum(-1).mean().item<double>();
  };
  const Pass plain = run_model(model, in, locality(Mechanism::none, {}));
  const Pass window = run_model(model, in, locality(Mechanism::window, {0, 0, 1}));
  EXPECT_LT(mean_distance(window), 0.8 * mean_distance(plain));
}

// Mask: layers with lambda >= theta put exactly 0 weight on keys outside the query's block;
// a layer below theta is only the soft block bias (some weight still leaks out).
TEST(Model, MaskAtOrAboveThetaPutsExactlyZeroWeightOutsideTheBlock) {
  const Gpt2 model = random_model(6);
  const Inputs in = make_inputs();
  Locality loc = locality(Mechanism::mask, {0.25, 0.5, 1.0});
  loc.theta = 0.5;
  const Pass r = run_model(model, in, loc);
  const auto outside = in.blocks.unsqueeze(2).ne(in.blocks.unsqueeze(1)).unsqueeze(1);  // [B,1,T,T]
  const auto causal = torch::ones({kT, kT}, torch::kBool).tril();
  for (int64_t l = 0; l < kLayers; ++l) {
    const auto leaked = (r.out.attention[l] * outside.logical_and(causal)).sum();
    if (loc.lambdas[l] >= loc.theta) {
      EXPECT_EQ(leaked.item<float>(), 0.0f) << "layer " << l;
      // The in-block weights are a softmax over the block: they sum to 1 exactly as above.
      EXPECT_TRUE(torch::allclose((r.out.attention[l] * outside.logical_not()).sum(-1),
                                  torch::ones({kBatch, kHeads, kT}), 1e-5, 1e-5));
    } else {
      EXPECT_GT(leaked.item<float>(), 0.0f) << "layer " << l;
    }
  }
  EXPECT_TRUE(std::isfinite(r.out.loss.item<double>()));
  for (const auto& g : r.grads) EXPECT_TRUE(torch::isfinite(g).all().item<bool>());
}

// theta = 1 (the default): lambda = 0.999 is soft, lambda = 1 is strict.
TEST(Model, MaskThresholdIsInclusive) {
  const Gpt2 model = random_model(6);
  const Inputs in = make_inputs();
  const auto outside = in.blocks.unsqueeze(2).ne(in.blocks.unsqueeze(1)).unsqueeze(1);
  const Pass r = run_model(model, in, locality(Mechanism::mask, {0.0, 0.999, 1.0}));
  EXPECT_GT((r.out.attention[1] * outside).sum().item<float>(), 0.0f);
  EXPECT_EQ((r.out.attention[2] * outside).sum().item<float>(), 0.0f);
}

TEST(Model, ForwardRejectsSequencesLongerThanBlockSize) {
  const Gpt2 model = random_model(1);
  const auto idx = torch::zeros({1, kBlock + 1}, torch::kInt64);
  EXPECT_THROW(model.forward(idx, idx, torch::Tensor(), locality(Mechanism::none, {}), {}), Error);
  // Exactly block_size is fine, and so is a shorter window.
  const auto ok = torch::zeros({1, kBlock}, torch::kInt64);
  EXPECT_NO_THROW(model.forward(ok, ok, torch::Tensor(), locality(Mechanism::none, {}), {}));
  const auto short_in = make_inputs(5);
  EXPECT_NO_THROW(model.forward(short_in.idx, short_in.targets, short_in.blocks,
                                locality(Mechanism::block, {0, 1, 1}), {}));
}

TEST(Model, MechanismsThatNeedBlocksRejectAMissingBlockTensor) {
  const Gpt2 model = random_model(1);
  const Inputs in = make_inputs();
  for (Mechanism m : {Mechanism::block, Mechanism::mask, Mechanism::penalty})
    EXPECT_THROW(model.forward(in.idx, in.targets, torch::Tensor(), locality(m, {0, 1, 1}), {}),
                 Error)
        << to_string(m);
  EXPECT_NO_THROW(model.forward(in.idx, in.targets, torch::Tensor(),
                                locality(Mechanism::window, {0, 1, 1}), {}));
}

TEST(Model, ParametersCarryHuggingFaceNamesShapesAndDecayFlags) {
  const Gpt2 model = random_model(1);
  EXPECT_EQ(model.parameters().size(), 4u + 12u * kLayers);
  EXPECT_EQ(model.parameter("wte.weight").sizes(), (std::vector<int64_t>{kVocab, kEmbd}));
  EXPECT_EQ(model.parameter("wpe.weight").sizes(), (std::vector<int64_t>{kBlock, kEmbd}));
  EXPECT_EQ(model.parameter("h.2.attn.c_attn.weight").sizes(),
            (std::vector<int64_t>{kEmbd, 3 * kEmbd}));
  EXPECT_EQ(model.parameter("h.0.mlp.c_proj.weight").sizes(),
            (std::vector<int64_t>{4 * kEmbd, kEmbd}));
  EXPECT_THROW(model.parameter("lm_head.weight"), Error);
  int64_t total = 0;
  for (const auto& p : model.parameters()) {
    EXPECT_EQ(p.decay, p.tensor.dim() >= 2) << p.name;
    EXPECT_TRUE(p.tensor.requires_grad()) << p.name;
    total += p.tensor.numel();
  }
  EXPECT_EQ(model.num_parameters(), total);
  EXPECT_TRUE(model.token_embedding().is_same(model.parameter("wte.weight")));
}

TEST(Model, InitWeightsIsAFunctionOfTheSeed) {
  Gpt2 a(tiny_config(), torch::kCPU), b(tiny_config(), torch::kCPU), c(tiny_config(), torch::kCPU);
  a.init_weights(11);
  b.init_weights(11);
  c.init_weights(12);
  for (size_t i = 0; i < a.parameters().size(); ++i)
    EXPECT_TRUE(bitwise_equal(a.parameters()[i].tensor, b.parameters()[i].tensor));
  EXPECT_FALSE(torch::equal(a.parameter("wte.weight"), c.parameter("wte.weight")));
  EXPECT_EQ(a.parameter("h.0.ln_1.weight").eq(1).all().item<bool>(), true);
  EXPECT_EQ(a.parameter("h.0.attn.c_attn.bias").eq(0).all().item<bool>(), true);
  // Residual projections are scaled by 1/sqrt(2L): their spread is well below 0.02.
  const double std_proj = a.parameter("h.0.mlp.c_proj.weight").std().item<double>();
  const double std_fc = a.parameter("h.0.mlp.c_fc.weight").std().item<double>();
  EXPECT_NEAR(std_fc, 0.02, 0.002);
  EXPECT_NEAR(std_proj, 0.02 / std::sqrt(2.0 * kLayers), 0.002);
}

TEST(Model, ConfigAndLocalityFollowTheTrialConfig) {
  testing::TempDir dir;
  const TrialConfig c = testing::config_from_yaml(
      "seed: 3\n"
      "model: {n_layer: 4, n_head: 2, n_embd: 32, block_size: 48, dropout: 0.25}\n"
      "data: {corpus: text.txt, tokenizer: bytes}\n"
      "locality: {mechanism: window, schedule: quintic, sigma: 2.5, kappa: 3, theta: 0.75,\n"
      "           rho: 0.4, gamma: 0.5}\n",
      dir.path());
  const GptConfig g = gpt_config_for(c, 256);
  EXPECT_EQ(g.n_layer, 4);
  EXPECT_EQ(g.n_head, 2);
  EXPECT_EQ(g.n_embd, 32);
  EXPECT_EQ(g.block_size, 48);
  EXPECT_EQ(g.vocab_size, 256);  // model.vocab_size 0: the tokenizer's
  EXPECT_EQ(g.dropout, 0.25);
  TrialConfig wider = c;
  wider.model.vocab_size = 300;
  EXPECT_EQ(gpt_config_for(wider, 256).vocab_size, 300);

  const Locality loc = locality_for(c);
  EXPECT_EQ(loc.mechanism, Mechanism::window);
  ASSERT_EQ(loc.lambdas.size(), 4u);
  const double expected[] = {0.0, std::pow(1.0 / 3, 5), std::pow(2.0 / 3, 5), 1.0};
  for (size_t l = 0; l < 4; ++l) EXPECT_NEAR(loc.lambdas[l], expected[l], 1e-15);
  EXPECT_EQ(loc.sigma, 2.5);
  EXPECT_EQ(loc.kappa, 3);
  EXPECT_EQ(loc.theta, 0.75);
  EXPECT_EQ(loc.rho, 0.4);
  EXPECT_EQ(loc.gamma, 0.5);
  EXPECT_FALSE(loc.needs_blocks());

  // mechanism none: whatever the schedule says, every layer is plain attention.
  TrialConfig none = c;
  none.locality.mechanism = Mechanism::none;
  const Locality plain = locality_for(none);
  EXPECT_EQ(plain.lambdas, std::vector<double>(4, 0.0));
  EXPECT_FALSE(plain.needs_blocks());
  for (Mechanism m : {Mechanism::block, Mechanism::mask, Mechanism::penalty}) {
    TrialConfig other = c;
    other.locality.mechanism = m;
    EXPECT_TRUE(locality_for(other).needs_blocks()) << to_string(m);
    EXPECT_EQ(locality_for(other).lambdas, loc.lambdas);
  }
}

// One set of defaults: a model built without a configuration is the configuration's default
// model, and the mechanism parameters default to locality.*'s (sweeps/trial_config.hpp).
TEST(Model, DefaultsAreTheTrialConfigsDefaults) {
  const TrialConfig c;
  const GptConfig plain;
  const GptConfig from_config = gpt_config_for(c, plain.vocab_size);
  EXPECT_EQ(plain.n_layer, from_config.n_layer);
  EXPECT_EQ(plain.n_head, from_config.n_head);
  EXPECT_EQ(plain.n_embd, from_config.n_embd);
  EXPECT_EQ(plain.block_size, from_config.block_size);
  EXPECT_EQ(plain.vocab_size, from_config.vocab_size);
  EXPECT_EQ(plain.dropout, from_config.dropout);
  const Locality defaults;
  const Locality loc = locality_for(c);
  EXPECT_EQ(defaults.sigma, loc.sigma);
  EXPECT_EQ(defaults.kappa, loc.kappa);
  EXPECT_EQ(defaults.theta, loc.theta);
  EXPECT_EQ(defaults.rho, loc.rho);
  EXPECT_EQ(defaults.gamma, loc.gamma);
}

TEST(Model, RejectsWidthNotDivisibleByHeads) {
  GptConfig g = tiny_config();
  g.n_head = 3;
  EXPECT_THROW(Gpt2(g, torch::kCPU), InputError);
}

}  // namespace
}  // namespace locsweep
