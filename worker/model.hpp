// GPT-2 with localist attention, in LibTorch: the whole model in model.cpp.
//
// Pre-LN transformer blocks, learned positions, GELU (tanh) MLP, LM head tied to the token
// embedding. Parameters carry Hugging Face `gpt2` names and layouts (Conv1D weights are
// [in, out]), so real GPT-2 weights load and trained models export unchanged.
//
// Attention in layer l applies the locality mechanism with that layer's lambda_l
// (../shared/SPEC.md, "Mechanisms"): `window` and `block` add a bias to the logits, `mask`
// masks keys outside the query's block where lambda_l >= theta, `penalty` leaves attention
// alone and returns a loss term. At lambda_l = 0 the layer is exactly plain GPT-2 attention:
// the locality path is skipped, not multiplied by zero.
#pragma once

#include <torch/torch.h>

#include <string>
#include <vector>

#include "sweeps/trial_config.hpp"

namespace locsweep {

// The model's shape. Its defaults are those of model.* (ModelConfig, sweeps/trial_config.hpp),
// the one set of them; gpt_config_for() builds it from a trial's configuration.
struct GptConfig {
  int64_t n_layer = ModelConfig{}.n_layer;
  int64_t n_head = ModelConfig{}.n_head;
  int64_t n_embd = ModelConfig{}.n_embd;
  int64_t block_size = ModelConfig{}.block_size;
  int64_t vocab_size = 50257;  // GPT-2's; model.vocab_size 0 means "the tokenizer's"
  double dropout = ModelConfig{}.dropout;
};

// What locality does to attention, per layer. The mechanism's parameters default to those of
// locality.* (LocalityConfig), the one set of them; the mechanism itself defaults to none (a
// model used without a trial configuration is plain GPT-2). locality_for() builds it.
struct Locality {
  Mechanism mechanism = Mechanism::none;
  std::vector<double> lambdas;  // lambda_l for each layer; empty means all zero
  double sigma = LocalityConfig{}.sigma, kappa = LocalityConfig{}.kappa,
         theta = LocalityConfig{}.theta, rho = LocalityConfig{}.rho, gamma = LocalityConfig{}.gamma;
  bool needs_blocks() const;  // block, mask, penalty
};

struct ForwardOptions {
  bool training = false;            // dropout on (needs a generator when dropout > 0)
  bool want_logits = false;         // also return [B, T, V] logits (materialises them)
  bool want_attention = false;      // also return each layer's attention weights
  at::Generator dropout_generator;  // dropout randomness, owned by the caller's RNG state
  int64_t loss_chunk_rows = 0;      // rows per LM-head chunk; 0: the model's default
  bool explicit_attention = false;  // never the fused kernel (tests compare the two paths)
};

// Whether this LibTorch has at::scaled_dot_product_attention (>= 2.0). Where it has, a layer's
// attention runs as one fused kernel unless the weights themselves are needed: want_attention
// (metrics), the penalty mechanism at lambda_l != 0, attention dropout (our own generator) or
// explicit_attention. Otherwise softmax(q k^T / sqrt(D) + bias) is computed explicitly.
bool fused_attention_available();

struct ForwardOutput {
  torch::Tensor loss;     // mean next-token NLL over the batch (scalar), if targets given
  torch::Tensor penalty;  // gamma * sum_l lambda_l * mean relu(rho - in-block mass); 0 if unused
  torch::Tensor logits;   // [B, T, V] when want_logits
  std::vector<torch::Tensor> attention;  // [B, H, T, T] per layer when want_attention (no grad)
};

struct NamedParameter {
  std::string name;      // Hugging Face name, e.g. "h.0.attn.c_attn.weight"
  torch::Tensor tensor;  // a leaf that requires grad
  bool decay;            // matrices get weight decay, vectors do not (SPEC.md)
};

class Gpt2 {
 public:
  Gpt2(const GptConfig& config, torch::Device device);

  // GPT-2 initialisation (normal(0, 0.02), residual projections scaled by 1/sqrt(2L),
  // zero biases, unit LayerNorm gains), from `seed` only: the same on every device.
  void init_weights(uint64_t seed);

  // idx, targets, blocks: [B, T] int64 on the model's device, T <= block_size. `targets` and
  // `blocks` may be undefined (blocks are needed when the mechanism or metrics use them).
  ForwardOutput forward(const torch::Tensor& idx, const torch::Tensor& targets,
                        const torch::Tensor& blocks, const Locality& locality,
                        const ForwardOptions& options) const;

  const GptConfig& config() const { return config_; }
  torch::Device device() const { return device_; }
  const std::vector<NamedParameter>& parameters() const { return params_; }
  const torch::Tensor& parameter(const std::string& name) const;  // throws Error if unknown
  int64_t num_parameters() const;
  const torch::Tensor& token_embedding() const { return wte_; }

 private:
  struct Layer {
    torch::Tensor ln_1_w, ln_1_b, c_attn_w, c_attn_b, attn_proj_w, attn_proj_b;
    torch::Tensor ln_2_w, ln_2_b, c_fc_w, c_fc_b, mlp_proj_w, mlp_proj_b;
  };
  torch::Tensor add(const std::string& name, std::vector<int64_t> shape);
  torch::Tensor attention(const torch::Tensor& x, const Layer& layer, int64_t index,
                          const torch::Tensor& bias, bool causal_only,
                          const torch::Tensor& same_block, const Locality& locality,
                          const ForwardOptions& options, ForwardOutput& out) const;
  torch::Tensor mlp(const torch::Tensor& x, const Layer& layer,
                    const ForwardOptions& options) const;
  torch::Tensor dropout(const torch::Tensor& x, const ForwardOptions& options) const;
  bool dropout_active(const ForwardOptions& options) const;

  GptConfig config_;
  torch::Device device_;
  std::vector<NamedParameter> params_;
  torch::Tensor wte_, wpe_, ln_f_w_, ln_f_b_;
  std::vector<Layer> layers_;
};

GptConfig gpt_config_for(const TrialConfig& config, int64_t vocab_size);
Locality locality_for(const TrialConfig& config);

}  // namespace locsweep
