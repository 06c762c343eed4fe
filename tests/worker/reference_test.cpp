// The llm.c-style check: the C++ model against the independent PyTorch reference
// (bench/python/gpt2_ref.py, run through bench/python/reference_check.py in float64) on a
// tiny random GPT-2, for every mechanism with quintic lambdas and sentence or fixed blocks:
// loss, penalty, logits, the attention metrics of worker/metrics.hpp, and the gradient of
// loss + penalty for every parameter.
#include <gtest/gtest.h>

#include <cmath>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "schedules/schedule.hpp"
#include "support/python.hpp"
#include "worker/blocks.hpp"
#include "worker/metrics.hpp"
#include "worker/model.hpp"
#include "worker/model_io.hpp"
#include "worker_test_support.hpp"

namespace locsweep {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

constexpr int64_t kLayers = 4, kHeads = 2, kEmbd = 16, kBlock = 16, kVocab = 40;
constexpr int64_t kBatch = 3, kT = 16;
constexpr double kTol = 1e-4;  // float32 C++ against float64 Python

struct Case {
  Mechanism mechanism;
  std::string blocks;  // "sentence" | "fixed:4"
};

std::string case_name(const ::testing::TestParamInfo<Case>& info) {
  std::string b = info.param.blocks == "sentence" ? "Sentence" : "Fixed4";
  return std::string(to_string(info.param.mechanism)) + b;
}

// Tokens that end a sentence in this test's vocabulary: every id = 5 (mod 6).
std::vector<uint8_t> sentence_ends() {
  std::vector<uint8_t> ends(kVocab, 0);
  for (int64_t id = 5; id < kVocab; id += 6) ends[static_cast<size_t>(id)] = 1;
  return ends;
}

json tensor_to_json(const torch::Tensor& t) {  // [B, T] int64 -> nested list
  json rows = json::array();
  const auto c = t.contiguous();
  for (int64_t b = 0; b < c.size(0); ++b) {
    json row = json::array();
    for (int64_t i = 0; i < c.size(1); ++i) row.push_back(c[b][i].item<int64_t>());
    rows.push_back(row);
  }
  return rows;
}

// max |a - b| / max |b| between a C++ tensor and a flattened JSON list of the same size.
double max_rel_diff(const torch::Tensor& ours, const std::vector<double>& ref) {
  const auto o = ours.detach().to(torch::kFloat64).contiguous().view({-1});
  EXPECT_EQ(o.numel(), static_cast<int64_t>(ref.size()));
  const auto r = torch::tensor(ref, torch::kFloat64);
  const double scale = r.abs().max().item<double>();
  return (o - r).abs().max().item<double>() / scale;
}

std::vector<double> flatten(const json& j) {
  std::vector<double> out;
  if (j.is_array()) {
    for (const auto& x : j) {
      auto part = flatten(x);
      out.insert(out.end(), part.begin(), part.end());
    }
  } else {
    out.push_back(j.get<double>());
  }
  return out;
}

class ReferenceCheck : public ::testing::TestWithParam<Case> {
 protected:
  void SetUp() override {
    if (!test_support::python_can_import("torch, numpy"))
      GTEST_SKIP()
          << "/usr/bin/python3 cannot import torch and numpy (python3-torch not installed)";
  }
};

TEST_P(ReferenceCheck, MatchesTheIndependentPythonModel) {
  const Case& c = GetParam();
  testing::TempDir dir;

  const GptConfig g{.n_layer = kLayers,
                    .n_head = kHeads,
                    .n_embd = kEmbd,
                    .block_size = kBlock,
                    .vocab_size = kVocab};
  Gpt2 model(g, torch::kCPU);
  model.init_weights(42);
  {
    // Non-trivial biases and LayerNorm parameters, larger weights than GPT-2's init so that
    // attention is far from uniform and every gradient carries signal.
    torch::NoGradGuard no_grad;
    auto gen = at::make_generator<at::CPUGeneratorImpl>(43);
    for (const auto& p : model.parameters()) {
      if (p.tensor.dim() == 1) p.tensor.add_(at::normal(0.0, 0.1, p.tensor.sizes(), gen));
      if (p.name.find("c_attn.weight") != std::string::npos) p.tensor.mul_(10.0);
      if (p.name == "wte.weight") p.tensor.mul_(20.0);  // logits of order 1, loss far from log V
    }
  }
  export_hf_safetensors(dir / "model.safetensors", model);

  auto gen = at::make_generator<at::CPUGeneratorImpl>(44);
  const auto windows = at::randint(kVocab, {kBatch, kT + 1}, gen, torch::kInt64);
  const auto idx = windows.narrow(1, 0, kT).contiguous();
  const auto targets = windows.narrow(1, 1, kT).contiguous();
  const auto ends = sentence_ends();
  const BlockSpec spec = BlockSpec::parse(c.blocks);
  const auto blocks = block_ids(idx, spec, ends, model.token_embedding());

  Locality loc;
  loc.mechanism = c.mechanism;
  loc.lambdas = Schedule::parse("quintic").lambdas(static_cast<int>(kLayers));
  ASSERT_EQ(loc.lambdas.back(), 1.0);  // the last layer is strictly masked under `mask`

  testing::write_text(dir / "tokens.json", tensor_to_json(windows).dump());
  json blocks_json;
  if (spec.kind == BlockSpec::Kind::fixed) {
    blocks_json = {{"fixed", spec.size}};
  } else {  // the reference derives sentence blocks from per-token flags itself
    json flags = json::array();
    for (int64_t b = 0; b < kBatch; ++b) {
      json row = json::array();
      for (int64_t i = 0; i < kT; ++i)
        row.push_back(ends[static_cast<size_t>(idx[b][i].item<int64_t>())]);
      flags.push_back(row);
    }
    blocks_json = {{"ends", flags}};
  }
  testing::write_text(dir / "blocks.json", blocks_json.dump());
  testing::write_text(dir / "config.json", json{{"n_layer", kLayers},
                                                {"n_head", kHeads},
                                                {"n_embd", kEmbd},
                                                {"block_size", kBlock},
                                                {"vocab_size", kVocab},
                                                {"mechanism", std::string(to_string(c.mechanism))},
                                                {"lambdas", loc.lambdas},
                                                {"sigma", loc.sigma},
                                                {"kappa", loc.kappa},
                                                {"theta", loc.theta},
                                                {"rho", loc.rho},
                                                {"gamma", loc.gamma}}
                                               .dump());
  const std::string script = std::string(LOCSWEEP_SOURCE_DIR) + "/bench/python/reference_check.py";
  const auto ran = test_support::run_python(
      {script, "--weights", (dir / "model.safetensors").string(), "--config",
       (dir / "config.json").string(), "--tokens", (dir / "tokens.json").string(), "--blocks",
       (dir / "blocks.json").string(), "--out", (dir / "ref.json").string(), "--grads",
       "--double"});
  ASSERT_TRUE(ran.ok()) << ran.out << ran.err;
  const json ref = json::parse(testing::read_bytes(dir / "ref.json"));
  ASSERT_EQ(ref["dtype"], "float64");

  // C++ side: forward with logits and attention, then d(loss + penalty)/d param.
  ForwardOptions opts;
  opts.want_logits = true;
  opts.want_attention = true;
  const ForwardOutput out = model.forward(idx, targets, blocks, loc, opts);
  (out.loss + out.penalty).backward();

  const double loss = out.loss.item<double>(), ref_loss = ref["loss"].get<double>();
  EXPECT_NEAR(loss, ref_loss, kTol * std::max(1.0, std::abs(ref_loss)));
  const double penalty = out.penalty.item<double>(), ref_penalty = ref["penalty"].get<double>();
  EXPECT_NEAR(penalty, ref_penalty, kTol * std::max(1.0, std::abs(ref_penalty)));
  if (c.mechanism == Mechanism::penalty) {
    EXPECT_GT(ref_penalty, 0.01);  // the comparison is not vacuous
  } else {
    EXPECT_EQ(penalty, 0.0);
  }
  ASSERT_TRUE(ref.contains("logits"));
  const double logits_err = max_rel_diff(out.logits, flatten(ref["logits"]));
  EXPECT_LT(logits_err, kTol) << "logits";
  const json& summary = ref["logits_summary"];  // logits of order 1: not a near-uniform output
  EXPECT_GT(summary["max"].get<double>() - summary["min"].get<double>(), 2.0);

  // Metrics. The in-block mass also compares block ids: for sentence blocks the reference
  // derives its own from the per-token flags.
  AttentionMetrics metrics(kLayers, kHeads, loc.lambdas);
  for (int64_t l = 0; l < kLayers; ++l)
    metrics.add(l, out.attention[static_cast<size_t>(l)], blocks);
  const auto heads = metrics.result();
  ASSERT_EQ(heads.size(), static_cast<size_t>(kLayers * kHeads));
  const json& m = ref["metrics"];
  double worst_metric = 0;
  for (const auto& h : heads) {
    const auto at = [&](const char* key) { return m[key][h.layer][h.head].get<double>(); };
    const std::pair<double, double> pairs[] = {{h.entropy_bits, at("entropy")},
                                               {h.entropy_norm, at("norm_entropy")},
                                               {h.in_block_mass, at("in_block_mass")},
                                               {h.mean_distance, at("mean_distance")}};
    for (const auto& [ours, theirs] : pairs) {
      EXPECT_NEAR(ours, theirs, kTol * std::max(1.0, std::abs(theirs)))
          << "layer " << h.layer << " head " << h.head;
      worst_metric = std::max(worst_metric, std::abs(ours - theirs));
    }
    EXPECT_EQ(h.lambda, loc.lambdas[static_cast<size_t>(h.layer)]);
  }
  // Localisation is visible in the metrics: the last layer (lambda = 1) of the attention
  // mechanisms keeps more mass in the block than plain attention would.
  if (c.mechanism == Mechanism::mask) {
    for (const auto& h : heads)
      if (h.layer == kLayers - 1) {
        EXPECT_NEAR(h.in_block_mass, 1.0, 1e-6);
      }
  }

  // Gradients: relative error per tensor, floored by the overall gradient scale so that
  // gradients that are zero in exact arithmetic (the key bias) compare by their size.
  const json& grads = ref["grads"];
  double global = 0;
  for (const auto& p : model.parameters()) {
    const auto r = torch::tensor(grads.at(p.name).get<std::vector<double>>(), torch::kFloat64);
    global += r.pow(2).sum().item<double>();
  }
  global = std::sqrt(global);
  ASSERT_GT(global, 0.0);
  double worst_grad = 0;
  std::string worst_name;
  for (const auto& p : model.parameters()) {
    ASSERT_TRUE(grads.contains(p.name)) << p.name;
    const auto r = torch::tensor(grads.at(p.name).get<std::vector<double>>(), torch::kFloat64);
    ASSERT_TRUE(p.tensor.grad().defined()) << p.name;
    const auto ours = p.tensor.grad().to(torch::kFloat64).reshape({-1});
    ASSERT_EQ(ours.numel(), r.numel()) << p.name;
    const double err =
        (ours - r).norm().item<double>() / std::max(r.norm().item<double>(), 1e-3 * global);
    EXPECT_LT(err, kTol) << "gradient of " << p.name;
    if (err > worst_grad) worst_grad = err, worst_name = p.name;
  }
  std::printf(
      "  loss %.8f vs %.8f, penalty %.3g vs %.3g, logits %.2g, metrics %.2g, grads %.2g (%s)\n",
      loss, ref_loss, penalty, ref_penalty, logits_err, worst_metric, worst_grad,
      worst_name.c_str());
}

INSTANTIATE_TEST_SUITE_P(
    AllMechanisms, ReferenceCheck,
    ::testing::Values(Case{Mechanism::none, "sentence"}, Case{Mechanism::window, "sentence"},
                      Case{Mechanism::block, "sentence"}, Case{Mechanism::mask, "sentence"},
                      Case{Mechanism::penalty, "sentence"}, Case{Mechanism::none, "fixed:4"},
                      Case{Mechanism::window, "fixed:4"}, Case{Mechanism::block, "fixed:4"},
                      Case{Mechanism::mask, "fixed:4"}, Case{Mechanism::penalty, "fixed:4"}),
    case_name);

}  // namespace
}  // namespace locsweep
