// The fused AdamW (worker/adamw.hpp) against torch::optim::AdamW with weight decay on the
// 2-D parameters only (two parameter groups), and the gradient-clipping helpers.
#include <gtest/gtest.h>

#include <cmath>
#include <sstream>
#include <string>
#include <type_traits>
#include <vector>

#include "worker/adamw.hpp"

namespace locsweep {
namespace {

constexpr double kBeta1 = 0.9, kBeta2 = 0.95, kEps = 1e-8, kDecay = 0.1;

// Matrices (decayed) and vectors (not), of sizes that do and do not fill a SIMD register.
std::vector<NamedParameter> make_params(uint64_t seed) {
  auto gen = at::make_generator<at::CPUGeneratorImpl>(seed);
  const std::vector<std::vector<int64_t>> shapes = {{7, 5}, {37}, {64, 33}, {3}, {128, 200}};
  std::vector<NamedParameter> params;
  for (size_t i = 0; i < shapes.size(); ++i) {
    auto t = at::normal(0.0, 1.0, shapes[i], gen).requires_grad_(true);
    params.push_back({"p" + std::to_string(i), t, shapes[i].size() >= 2});
  }
  return params;
}

// Sets the same pseudo-random gradient on both sets of parameters (times `scale` on `b`).
void set_grads(const std::vector<NamedParameter>& a, const std::vector<NamedParameter>& b,
               uint64_t seed, double scale) {
  auto gen = at::make_generator<at::CPUGeneratorImpl>(seed);
  for (size_t i = 0; i < a.size(); ++i) {
    const auto g = at::normal(0.0, 1.0, a[i].tensor.sizes(), gen);
    a[i].tensor.mutable_grad() = g.clone();
    b[i].tensor.mutable_grad() = g * scale;
  }
}

struct Reference {
  std::vector<NamedParameter> params;
  std::unique_ptr<torch::optim::AdamW> optimizer;

  explicit Reference(uint64_t seed) : params(make_params(seed)) {
    std::vector<torch::Tensor> decay, no_decay;
    for (const auto& p : params) (p.decay ? decay : no_decay).push_back(p.tensor);
    auto opts = [](double wd) {
      return std::make_unique<torch::optim::AdamWOptions>(
          torch::optim::AdamWOptions(1e-3).betas({kBeta1, kBeta2}).eps(kEps).weight_decay(wd));
    };
    std::vector<torch::optim::OptimizerParamGroup> groups;
    groups.emplace_back(decay, opts(kDecay));
    groups.emplace_back(no_decay, opts(0.0));
    optimizer = std::make_unique<torch::optim::AdamW>(groups, torch::optim::AdamWOptions(1e-3));
  }

  void step(double lr) {
    for (auto& group : optimizer->param_groups())
      static_cast<torch::optim::AdamWOptions&>(group.options()).lr(lr);
    optimizer->step();
  }

  const torch::optim::AdamWParamState& state(const torch::Tensor& p) {
    return static_cast<const torch::optim::AdamWParamState&>(
        *optimizer->state().at(state_key(optimizer->state(), p)));
  }

  // LibTorch 1.13 keys the optimizer state by the TensorImpl address printed as a string,
  // 2.x by the address itself.
  template <typename Map>
  static typename Map::key_type state_key(const Map&, const torch::Tensor& p) {
    if constexpr (std::is_same_v<typename Map::key_type, std::string>) {
      std::ostringstream key;
      key << p.unsafeGetTensorImpl();
      return key.str();
    } else {
      return p.unsafeGetTensorImpl();
    }
  }
};

// Largest difference relative to the tensor's scale (elementwise relative error would blow
// up where a moment is near zero by cancellation and the two differ only in rounding).
double max_rel(const torch::Tensor& a, const torch::Tensor& b) {
  return (a - b).abs().max().item<double>() / b.abs().max().item<double>();
}

struct GradCase {
  std::string name;
  double grad_scale;  // our clip factor; the reference gets pre-scaled gradients
};

class AdamWMatchesTorch : public ::testing::TestWithParam<GradCase> {};

TEST_P(AdamWMatchesTorch, OverSeveralStepsWithChangingLearningRate) {
  const double scale = GetParam().grad_scale;
  Reference ref(5);
  const auto ours_params = make_params(5);
  AdamW ours(ours_params, {kBeta1, kBeta2, kEps, kDecay});
  const double lrs[] = {1e-3, 3e-3, 2e-3, 5e-4, 1e-2, 1e-3};
  for (int step = 0; step < 6; ++step) {
    set_grads(ours_params, ref.params, 100 + step, scale);
    ours.step(lrs[step], scale);
    ref.step(lrs[step]);
    EXPECT_EQ(ours.step_count(), step + 1);
    for (size_t i = 0; i < ours_params.size(); ++i) {
      const auto& p = ours_params[i].tensor;
      const auto& q = ref.params[i].tensor;
      EXPECT_LT(max_rel(p, q), 2e-5) << "step " << step << " param " << i;
      EXPECT_LT((p - q).abs().max().item<double>(), 1e-6) << "step " << step << " param " << i;
      const auto& st = ref.state(q);
      EXPECT_LT(max_rel(ours.exp_avg()[i], st.exp_avg()), 1e-5) << "exp_avg " << i;
      EXPECT_LT(max_rel(ours.exp_avg_sq()[i], st.exp_avg_sq()), 1e-5) << "exp_avg_sq " << i;
    }
  }
  // The parameters really moved (the comparison is not of two untouched copies).
  EXPECT_GT((ours_params[2].tensor - make_params(5)[2].tensor).abs().max().item<double>(), 1e-3);
}

INSTANTIATE_TEST_SUITE_P(GradScales, AdamWMatchesTorch,
                         ::testing::Values(GradCase{"unclipped", 1.0}, GradCase{"clipped", 0.3}),
                         [](const ::testing::TestParamInfo<GradCase>& info) {
                           return info.param.name;
                         });

// Weight decay touches matrices only: with a zero gradient, a vector stays put and a matrix
// shrinks by exactly (1 - lr * wd) (Adam's own update is 0 / (0 + eps) = 0).
TEST(AdamW, DecaysMatricesOnly) {
  auto params = make_params(6);
  const auto before_m = params[0].tensor.detach().clone(),
             before_v = params[1].tensor.detach().clone();
  for (const auto& p : params) p.tensor.mutable_grad() = torch::zeros_like(p.tensor);
  AdamW opt(params, {kBeta1, kBeta2, kEps, kDecay});
  opt.step(0.5);
  EXPECT_TRUE(torch::allclose(params[0].tensor, before_m * (1.0 - 0.5 * kDecay), 1e-6, 0.0));
  EXPECT_TRUE(torch::equal(params[1].tensor, before_v));
}

// A parameter without a gradient is skipped: value and moments unchanged; the others step.
TEST(AdamW, SkipsParametersWithoutGradient) {
  auto params = make_params(7);
  auto twin = make_params(7);
  set_grads(params, twin, 1, 1.0);
  params[3].tensor.mutable_grad().reset();
  const auto before = params[3].tensor.detach().clone();
  AdamW opt(params, {kBeta1, kBeta2, kEps, kDecay});
  opt.step(1e-2);
  EXPECT_TRUE(torch::equal(params[3].tensor, before));
  EXPECT_EQ(opt.exp_avg()[3].abs().sum().item<double>(), 0.0);
  EXPECT_EQ(opt.exp_avg_sq()[3].abs().sum().item<double>(), 0.0);
  EXPECT_FALSE(torch::equal(params[0].tensor, twin[0].tensor));
}

TEST(AdamW, StepCountCanBeRestored) {
  auto params = make_params(8);
  AdamW opt(params, {});
  EXPECT_EQ(opt.step_count(), 0);
  opt.set_step_count(41);
  for (const auto& p : params) p.tensor.mutable_grad() = torch::ones_like(p.tensor);
  opt.step(1e-3);
  EXPECT_EQ(opt.step_count(), 42);
  EXPECT_EQ(opt.exp_avg().size(), params.size());
  EXPECT_EQ(opt.exp_avg_sq().size(), params.size());
}

TEST(GradNorm, IsTheL2NormOfAllGradientsTogether) {
  std::vector<NamedParameter> params = {
      {"a", torch::zeros({2}).requires_grad_(true), false},
      {"b", torch::zeros({2, 2}).requires_grad_(true), true},
      {"c", torch::zeros({3}).requires_grad_(true), false},
  };
  params[0].tensor.mutable_grad() = torch::tensor({3.0f, 0.0f});
  params[1].tensor.mutable_grad() = torch::tensor({0.0f, 4.0f, 0.0f, 12.0f}).view({2, 2});
  // params[2] has no gradient: it counts as zero.
  EXPECT_NEAR(global_grad_norm(params), 13.0, 1e-6);
  clear_grads(params);
  for (const auto& p : params) EXPECT_FALSE(p.tensor.grad().defined());
  EXPECT_EQ(global_grad_norm(params), 0.0);
}

struct ClipCase {
  double norm, max_norm, factor;
};

class ClipFactor : public ::testing::TestWithParam<ClipCase> {};

TEST_P(ClipFactor, ScalesToTheMaximumNorm) {
  const auto& c = GetParam();
  EXPECT_NEAR(clip_factor(c.norm, c.max_norm), c.factor, 1e-6);
  // Whatever the factor, the clipped norm never exceeds the maximum (when clipping is on).
  if (c.max_norm > 0) {
    EXPECT_LE(c.norm * clip_factor(c.norm, c.max_norm), c.max_norm);
  }
}

INSTANTIATE_TEST_SUITE_P(Table, ClipFactor,
                         ::testing::Values(ClipCase{0.5, 1.0, 1.0},   // below: unchanged
                                           ClipCase{1.0, 1.0, 1.0},   // at the limit
                                           ClipCase{4.0, 1.0, 0.25},  // above: max/norm
                                           ClipCase{100.0, 2.0, 0.02},
                                           ClipCase{5.0, 0.0, 1.0},  // clipping off
                                           ClipCase{0.0, 1.0, 1.0}));

}  // namespace
}  // namespace locsweep
