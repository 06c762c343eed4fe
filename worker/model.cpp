#include "worker/model.hpp"

#include <torch/version.h>

#include <cmath>

#include "common/error.hpp"
#include "worker/lm_head_loss.hpp"

// at::scaled_dot_product_attention (additive float mask, default 1/sqrt(D) scale) is in
// LibTorch 2.0 and later.
#if TORCH_VERSION_MAJOR >= 2
#define LOCSWEEP_HAVE_SDPA 1
#else
#define LOCSWEEP_HAVE_SDPA 0
#endif

namespace locsweep {

bool fused_attention_available() {
  return LOCSWEEP_HAVE_SDPA != 0;
}

bool Locality::needs_blocks() const {
  return mechanism == Mechanism::block || mechanism == Mechanism::mask ||
         mechanism == Mechanism::penalty;
}

Gpt2::Gpt2(const GptConfig& config, torch::Device device) : config_(config), device_(device) {
  if (config.n_embd % config.n_head != 0)
    throw InputError("model: n_embd must be divisible by n_head");
  const int64_t C = config.n_embd, V = config.vocab_size, T = config.block_size;
  wte_ = add("wte.weight", {V, C});
  wpe_ = add("wpe.weight", {T, C});
  for (int64_t l = 0; l < config.n_layer; ++l) {
    const std::string p = "h." + std::to_string(l) + ".";
    Layer layer;
    layer.ln_1_w = add(p + "ln_1.weight", {C});
    layer.ln_1_b = add(p + "ln_1.bias", {C});
    layer.c_attn_w = add(p + "attn.c_attn.weight", {C, 3 * C});
    layer.c_attn_b = add(p + "attn.c_attn.bias", {3 * C});
    layer.attn_proj_w = add(p + "attn.c_proj.weight", {C, C});
    layer.attn_proj_b = add(p + "attn.c_proj.bias", {C});
    layer.ln_2_w = add(p + "ln_2.weight", {C});
    layer.ln_2_b = add(p + "ln_2.bias", {C});
    layer.c_fc_w = add(p + "mlp.c_fc.weight", {C, 4 * C});
    layer.c_fc_b = add(p + "mlp.c_fc.bias", {4 * C});
    layer.mlp_proj_w = add(p + "mlp.c_proj.weight", {4 * C, C});
    layer.mlp_proj_b = add(p + "mlp.c_proj.bias", {C});
    layers_.push_back(layer);
  }
  ln_f_w_ = add("ln_f.weight", {C});
  ln_f_b_ = add("ln_f.bias", {C});
}

torch::Tensor Gpt2::add(const std::string& name, std::vector<int64_t> shape) {
  auto t = torch::zeros(shape, torch::TensorOptions().dtype(torch::kFloat32).device(device_));
  t.set_requires_grad(true);
  params_.push_back({name, t, shape.size() >= 2});
  return t;
}

void Gpt2::init_weights(uint64_t seed) {
  torch::NoGradGuard no_grad;
  auto gen = at::make_generator<at::CPUGeneratorImpl>(seed);
  const double residual_std = 0.02 / std::sqrt(2.0 * static_cast<double>(config_.n_layer));
  for (auto& p : params_) {
    const std::string& n = p.name;
    const bool is_bias = n.size() >= 5 && n.compare(n.size() - 5, 5, ".bias") == 0;
    const bool is_ln = n.find("ln_") != std::string::npos;
    if (is_bias) {
      p.tensor.zero_();
    } else if (is_ln) {
      p.tensor.fill_(1.0);
    } else {
      const bool residual = n.find("c_proj.weight") != std::string::npos;
      auto values = at::normal(0.0, residual ? residual_std : 0.02, p.tensor.sizes(), gen);
      p.tensor.copy_(values);
    }
  }
}

const torch::Tensor& Gpt2::parameter(const std::string& name) const {
  for (const auto& p : params_)
    if (p.name == name) return p.tensor;
  throw Error("model has no parameter '" + name + "'");
}

int64_t Gpt2::num_parameters() const {
  int64_t n = 0;
  for (const auto& p : params_) n += p.tensor.numel();
  return n;
}

bool Gpt2::dropout_active(const ForwardOptions& options) const {
  return options.training && config_.dropout > 0.0;
}

torch::Tensor Gpt2::dropout(const torch::Tensor& x, const ForwardOptions& options) const {
  if (!dropout_active(options)) return x;
  const double keep = 1.0 - config_.dropout;
  auto mask = at::empty_like(x).bernoulli_(keep, options.dropout_generator).div_(keep);
  return x * mask;
}

namespace {

// The additive biases every layer's attention picks from, built once per forward pass.
struct AttentionBiases {
  torch::Tensor causal;      // [T, T]: 0 where j <= i, -inf above the diagonal
  torch::Tensor distance;    // [T, T]: -(i - j) / sigma (window)
  torch::Tensor cross;       // [B, 1, T, T]: -kappa where B(j) != B(i) (block, mask)
  torch::Tensor outside;     // [B, 1, T, T]: -inf where B(j) != B(i) (mask)
  torch::Tensor same_block;  // [B, 1, T, T]: 1 where B(j) == B(i) (penalty)

  // Layer l's bias: plain causal at lambda = 0, else the mechanism's term added.
  torch::Tensor for_layer(const Locality& loc, double lambda) const {
    if (lambda == 0.0) return causal;
    switch (loc.mechanism) {
      case Mechanism::window:
        return causal + distance * lambda;
      case Mechanism::block:
        return causal + cross * lambda;
      case Mechanism::mask:
        return lambda >= loc.theta ? causal + outside : causal + cross * lambda;
      default:
        return causal;
    }
  }
};

AttentionBiases make_biases(int64_t T, const torch::Tensor& blocks, const Locality& loc,
                            torch::Device device) {
  AttentionBiases b;
  const auto opts = torch::TensorOptions().dtype(torch::kFloat32).device(device);
  const auto inf = std::numeric_limits<float>::infinity();
  b.causal = torch::full({T, T}, -inf, opts).triu_(1);
  if (loc.mechanism == Mechanism::window) {
    auto pos = torch::arange(T, opts);
    b.distance = (pos.unsqueeze(0) - pos.unsqueeze(1)) / loc.sigma;  // (j - i) / sigma
  }
  if (blocks.defined() && loc.needs_blocks()) {
    auto same = blocks.unsqueeze(2).eq(blocks.unsqueeze(1)).unsqueeze(1);  // [B, 1, T, T]
    if (loc.mechanism == Mechanism::block || loc.mechanism == Mechanism::mask)
      b.cross = same.logical_not().to(torch::kFloat32).mul_(-loc.kappa);
    if (loc.mechanism == Mechanism::mask)
      b.outside = torch::zeros(same.sizes(), opts).masked_fill_(same.logical_not(), -inf);
    if (loc.mechanism == Mechanism::penalty) b.same_block = same.to(torch::kFloat32);
  }
  return b;
}

// softmax(q k^T / sqrt(D) + bias) v in one fused kernel (flash / memory-efficient on GPUs,
// never materialising the [B, H, T, T] weights). Same scale as the explicit path (the default
// 1/sqrt(D)); `bias` is additive and broadcasts to [B, H, T, T].
// `causal_only`: the bias is just the causal mask, so no mask tensor is passed at all and the
// kernel masks by position (the only form the flash kernel takes).
torch::Tensor fused_attention(const torch::Tensor& q, const torch::Tensor& k,
                              const torch::Tensor& v, const torch::Tensor& bias, bool causal_only) {
#if LOCSWEEP_HAVE_SDPA
  if (causal_only) return at::scaled_dot_product_attention(q, k, v, {}, 0.0, /*is_causal=*/true);
  return at::scaled_dot_product_attention(q, k, v, bias, /*dropout_p=*/0.0, /*is_causal=*/false);
#else
  (void)q, (void)k, (void)v, (void)bias, (void)causal_only;
  throw Error("fused attention needs LibTorch >= 2.0 (this build has " TORCH_VERSION ")");
#endif
}

double lambda_at(const Locality& loc, int64_t layer) {
  return loc.lambdas.empty() ? 0.0 : loc.lambdas.at(static_cast<size_t>(layer));
}

}  // namespace

torch::Tensor Gpt2::attention(const torch::Tensor& x, const Layer& layer, int64_t index,
                              const torch::Tensor& bias, bool causal_only,
                              const torch::Tensor& same_block, const Locality& loc,
                              const ForwardOptions& options, ForwardOutput& out) const {
  const int64_t B = x.size(0), T = x.size(1), C = config_.n_embd, H = config_.n_head, D = C / H;
  auto qkv = at::addmm(layer.c_attn_b, x.reshape({B * T, C}), layer.c_attn_w).view({B, T, 3, H, D});
  auto q = qkv.select(2, 0).transpose(1, 2);  // [B, H, T, D]
  auto k = qkv.select(2, 1).transpose(1, 2);
  auto v = qkv.select(2, 2).transpose(1, 2);
  const double lambda = lambda_at(loc, index);
  const bool penalised = loc.mechanism == Mechanism::penalty && lambda != 0.0;
  torch::Tensor y;
  if (fused_attention_available() && !options.explicit_attention && !options.want_attention &&
      !penalised && !dropout_active(options)) {
    y = fused_attention(q, k, v, bias, causal_only);
  } else {
    auto att = at::matmul(q, k.transpose(-2, -1)).mul_(1.0 / std::sqrt(static_cast<double>(D)));
    att = at::softmax(att.add_(bias), -1);
    if (options.want_attention) out.attention.push_back(att.detach());
    if (penalised) {
      auto mass = (att * same_block).sum(-1);  // in-block mass m_i, [B, H, T]
      out.penalty = out.penalty + at::relu(loc.rho - mass).mean() * lambda;
    }
    y = at::matmul(dropout(att, options), v);
  }
  y = y.transpose(1, 2).reshape({B * T, C});
  return dropout(at::addmm(layer.attn_proj_b, y, layer.attn_proj_w).view({B, T, C}), options);
}

torch::Tensor Gpt2::mlp(const torch::Tensor& x, const Layer& layer,
                        const ForwardOptions& options) const {
  const int64_t B = x.size(0), T = x.size(1), C = config_.n_embd;
  auto h = at::gelu(at::addmm(layer.c_fc_b, x.reshape({B * T, C}), layer.c_fc_w), "tanh");
  return dropout(at::addmm(layer.mlp_proj_b, h, layer.mlp_proj_w).view({B, T, C}), options);
}

ForwardOutput Gpt2::forward(const torch::Tensor& idx, const torch::Tensor& targets,
                            const torch::Tensor& blocks, const Locality& loc,
                            const ForwardOptions& options) const {
  const int64_t B = idx.size(0), T = idx.size(1), C = config_.n_embd;
  if (T > config_.block_size)
    throw Error("sequence of " + std::to_string(T) + " tokens exceeds block_size " +
                std::to_string(config_.block_size));
  if (loc.needs_blocks() && !blocks.defined())
    throw Error("the " + std::string(to_string(loc.mechanism)) + " mechanism needs block ids");
  ForwardOutput out;
  out.penalty = torch::zeros({}, torch::TensorOptions().device(device_));
  const AttentionBiases biases = make_biases(T, blocks, loc, device_);

  // A sparse embedding gradient: the tied LM head already gives wte a dense [V, C] gradient,
  // and adding the B*T looked-up rows to it in place is far cheaper than the dense [V, C]
  // gradient of a dense lookup (a zero fill, a scatter and a full-size add).
  auto x =
      dropout(at::embedding(wte_, idx, -1, false, /*sparse=*/true) + wpe_.narrow(0, 0, T), options);
  for (int64_t l = 0; l < config_.n_layer; ++l) {
    const Layer& layer = layers_[static_cast<size_t>(l)];
    const auto bias = biases.for_layer(loc, lambda_at(loc, l));
    x = x + attention(at::layer_norm(x, {C}, layer.ln_1_w, layer.ln_1_b, 1e-5), layer, l, bias,
                      bias.is_same(biases.causal), biases.same_block, loc, options, out);
    x = x + mlp(at::layer_norm(x, {C}, layer.ln_2_w, layer.ln_2_b, 1e-5), layer, options);
  }
  x = at::layer_norm(x, {C}, ln_f_w_, ln_f_b_, 1e-5);
  out.penalty = out.penalty * loc.gamma;
  if (targets.defined())
    out.loss = linear_cross_entropy(x.reshape({B * T, C}), wte_, targets.reshape({B * T}),
                                    options.loss_chunk_rows);
  if (options.want_logits) out.logits = at::matmul(x, wte_.t());
  return out;
}

GptConfig gpt_config_for(const TrialConfig& c, int64_t vocab_size) {
  GptConfig g;
  g.n_layer = c.model.n_layer;
  g.n_head = c.model.n_head;
  g.n_embd = c.model.n_embd;
  g.block_size = c.model.block_size;
  g.vocab_size = c.model.vocab_size > 0 ? c.model.vocab_size : vocab_size;
  g.dropout = c.model.dropout;
  return g;
}

Locality locality_for(const TrialConfig& c) {
  Locality loc;
  loc.mechanism = c.locality.mechanism;
  loc.lambdas = c.locality.schedule.lambdas(c.model.n_layer);
  loc.sigma = c.locality.sigma;
  loc.kappa = c.locality.kappa;
  loc.theta = c.locality.theta;
  loc.rho = c.locality.rho;
  loc.gamma = c.locality.gamma;
  if (loc.mechanism == Mechanism::none) loc.lambdas.assign(loc.lambdas.size(), 0.0);
  return loc;
}

}  // namespace locsweep
