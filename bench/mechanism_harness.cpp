// mechanism_harness: checks and times the locality mechanisms of the worker's GPT-2, in the
// spirit of ggml's test-backend-ops.
//
//   mechanism_harness check
//       For each mechanism, a few shapes (B, H, T, D) and lambdas (0, 0.3, 1): run a 1-layer
//       Gpt2 forward (want_attention) and backward, and compare its attention weights, loss,
//       penalty and every parameter gradient with a naive float64 reference written here:
//       the attention core is explicit loops over queries i and keys j, forward and a
//       hand-derived backward (no code shared with worker/model.cpp); the rest of the layer
//       (embeddings, LayerNorm, MLP, LM head) is composed from plain torch ops in float64.
//       One line per case with OK/FAIL and the errors; exit status 1 on any FAIL.
//
//   mechanism_harness perf [--threads N] [--config tiny|gpt2] [--reps N] [--vocab V]
//                          [--schedule SPEC]
//       Times forward+backward of a full model step for each mechanism against mechanism
//       none with the same lambdas (default quintic), interleaving the mechanisms within
//       every repetition (in a rotating order) so that machine noise hits all alike. The
//       rest of the step is identical for all mechanisms, so "extra ms" (the difference to
//       none) is the cost of the mechanism's part of attention. The default vocabulary is
//       256 (the byte tokenizer), which keeps the LM head (73 % of a GPT-2-vocabulary step
//       at the tiny config) from drowning that difference; --vocab 50257 times real steps.
//       Prints the BLAS in use. Asserts nothing about timings.
#include <torch/torch.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "schedules/schedule.hpp"
#include "worker/model.hpp"
#include "worker/runtime_info.hpp"

namespace locsweep {
namespace {

using torch::Tensor;
using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

// The mechanisms: kMechanisms of sweeps/trial_config.hpp.

// ---------------------------------------------------------------------------------------
// The naive reference of one attention layer's core, float64, explicit loops.

struct Rules {
  Mechanism mechanism = Mechanism::none;
  double lambda = 0, sigma = 4, kappa = 8, theta = 1, rho = 0.5, gamma = 1;
};

// Attention weights a[b][h][i][j] (0 for j > i and for strictly masked keys) of q, k
// ([B, T, H, D], contiguous float64) under `rules`; `blocks` [B, T] int64.
std::vector<double> naive_weights(const Tensor& q, const Tensor& k, const Tensor& blocks,
                                  const Rules& r) {
  const int64_t B = q.size(0), T = q.size(1), H = q.size(2), D = q.size(3);
  const double* Q = q.data_ptr<double>();
  const double* K = k.data_ptr<double>();
  const int64_t* blk = blocks.data_ptr<int64_t>();
  const double scale = 1.0 / std::sqrt(static_cast<double>(D));
  const bool strict = r.mechanism == Mechanism::mask && r.lambda > 0 && r.lambda >= r.theta;
  std::vector<double> a(static_cast<size_t>(B * H * T * T), 0.0), s(static_cast<size_t>(T));
  for (int64_t b = 0; b < B; ++b)
    for (int64_t h = 0; h < H; ++h)
      for (int64_t i = 0; i < T; ++i) {
        double max_s = -INFINITY;
        for (int64_t j = 0; j <= i; ++j) {
          const bool same = blk[b * T + i] == blk[b * T + j];
          if (strict && !same) {
            s[j] = -INFINITY;
            continue;
          }
          double dot = 0;
          for (int64_t d = 0; d < D; ++d)
            dot += Q[((b * T + i) * H + h) * D + d] * K[((b * T + j) * H + h) * D + d];
          double v = dot * scale;
          if (r.mechanism == Mechanism::window)
            v -= r.lambda * static_cast<double>(i - j) / r.sigma;
          if ((r.mechanism == Mechanism::block || r.mechanism == Mechanism::mask) && !same)
            v -= r.lambda * r.kappa;
          s[j] = v;
          max_s = std::max(max_s, v);
        }
        double sum = 0;
        for (int64_t j = 0; j <= i; ++j) sum += s[j] == -INFINITY ? 0.0 : std::exp(s[j] - max_s);
        for (int64_t j = 0; j <= i; ++j)
          a[static_cast<size_t>(((b * H + h) * T + i) * T + j)] =
              s[j] == -INFINITY ? 0.0 : std::exp(s[j] - max_s) / sum;
      }
  return a;
}

// y = attention(q, k, v) as [B, T, H, D] and the penalty term, with a hand-written backward.
struct NaiveAttention : public torch::autograd::Function<NaiveAttention> {
  static variable_list forward(AutogradContext* ctx, Tensor q, Tensor k, Tensor v, Tensor blocks,
                               int64_t mechanism, double lambda, double sigma, double kappa,
                               double theta, double rho, double gamma) {
    const Rules r{static_cast<Mechanism>(mechanism), lambda, sigma, kappa, theta, rho, gamma};
    q = q.contiguous(), k = k.contiguous(), v = v.contiguous();
    const int64_t B = q.size(0), T = q.size(1), H = q.size(2), D = q.size(3);
    const auto a = naive_weights(q, k, blocks, r);
    auto y = torch::zeros_like(q);
    const double* V = v.data_ptr<double>();
    double* Y = y.data_ptr<double>();
    const int64_t* blk = blocks.data_ptr<int64_t>();
    double penalty = 0;
    for (int64_t b = 0; b < B; ++b)
      for (int64_t h = 0; h < H; ++h)
        for (int64_t i = 0; i < T; ++i) {
          double mass = 0;
          for (int64_t j = 0; j <= i; ++j) {
            const double w = a[static_cast<size_t>(((b * H + h) * T + i) * T + j)];
            for (int64_t d = 0; d < D; ++d)
              Y[((b * T + i) * H + h) * D + d] += w * V[((b * T + j) * H + h) * D + d];
            if (blk[b * T + i] == blk[b * T + j]) mass += w;
          }
          penalty += std::max(0.0, r.rho - mass);
        }
    const bool penalised = r.mechanism == Mechanism::penalty && r.lambda != 0;
    penalty = penalised ? r.gamma * r.lambda * penalty / static_cast<double>(B * H * T) : 0.0;
    auto weights = torch::tensor(a, torch::kFloat64).view({B, H, T, T});
    ctx->save_for_backward({q, k, v, weights, blocks});
    ctx->saved_data["mechanism"] = mechanism;
    ctx->saved_data["lambda"] = lambda;
    ctx->saved_data["rho"] = rho;
    ctx->saved_data["gamma"] = gamma;
    ctx->mark_non_differentiable({weights});
    return {y, torch::full({}, penalty, torch::kFloat64), weights};
  }

  static variable_list backward(AutogradContext* ctx, variable_list grads) {
    const auto saved = ctx->get_saved_variables();
    const Tensor &q = saved[0], &k = saved[1], &v = saved[2], &weights = saved[3],
                 &blocks = saved[4];
    const auto mechanism = static_cast<Mechanism>(ctx->saved_data["mechanism"].toInt());
    const double lambda = ctx->saved_data["lambda"].toDouble(),
                 rho = ctx->saved_data["rho"].toDouble(),
                 gamma = ctx->saved_data["gamma"].toDouble();
    const int64_t B = q.size(0), T = q.size(1), H = q.size(2), D = q.size(3);
    const Tensor dy = grads[0].defined() ? grads[0].contiguous() : torch::zeros_like(q);
    const double dpen = grads[1].defined() ? grads[1].item<double>() : 0.0;
    auto dq = torch::zeros_like(q), dk = torch::zeros_like(k), dv = torch::zeros_like(v);
    const double *Q = q.data_ptr<double>(), *K = k.data_ptr<double>(), *V = v.data_ptr<double>();
    const double *A = weights.data_ptr<double>(), *DY = dy.data_ptr<double>();
    double *DQ = dq.data_ptr<double>(), *DK = dk.data_ptr<double>(), *DV = dv.data_ptr<double>();
    const int64_t* blk = blocks.data_ptr<int64_t>();
    const double scale = 1.0 / std::sqrt(static_cast<double>(D));
    const bool penalised = mechanism == Mechanism::penalty && lambda != 0;
    std::vector<double> da(static_cast<size_t>(T));
    for (int64_t b = 0; b < B; ++b)
      for (int64_t h = 0; h < H; ++h)
        for (int64_t i = 0; i < T; ++i) {
          const double* a = A + ((b * H + h) * T + i) * T;
          const double* dyi = DY + ((b * T + i) * H + h) * D;
          double mass = 0;
          for (int64_t j = 0; j <= i; ++j)
            if (blk[b * T + i] == blk[b * T + j]) mass += a[j];
          // d(penalty)/d(a_ij) for keys j in the query's block, where the hinge is active.
          const double dmass = penalised && rho - mass > 0
                                   ? -dpen * gamma * lambda / static_cast<double>(B * H * T)
                                   : 0.0;
          double dot = 0;  // sum_j a_ij da_ij
          for (int64_t j = 0; j <= i; ++j) {
            double g = 0;
            for (int64_t d = 0; d < D; ++d) g += dyi[d] * V[((b * T + j) * H + h) * D + d];
            if (blk[b * T + i] == blk[b * T + j]) g += dmass;
            da[j] = g;
            dot += a[j] * g;
            for (int64_t d = 0; d < D; ++d) DV[((b * T + j) * H + h) * D + d] += a[j] * dyi[d];
          }
          for (int64_t j = 0; j <= i; ++j) {
            const double ds = a[j] * (da[j] - dot) * scale;  // softmax backward, then the 1/sqrt(D)
            for (int64_t d = 0; d < D; ++d) {
              DQ[((b * T + i) * H + h) * D + d] += ds * K[((b * T + j) * H + h) * D + d];
              DK[((b * T + j) * H + h) * D + d] += ds * Q[((b * T + i) * H + h) * D + d];
            }
          }
        }
    return {dq,       dk,       dv,       Tensor(), Tensor(), Tensor(),
            Tensor(), Tensor(), Tensor(), Tensor(), Tensor()};
  }
};

struct Reference {
  Tensor loss, penalty, attention;  // float64
  std::vector<Tensor> grads;        // d(loss + penalty)/d param, per model parameter
};

// The whole 1-layer model in float64: plain torch ops around the naive attention core.
Reference reference_forward_backward(const Gpt2& model, const Tensor& idx, const Tensor& targets,
                                     const Tensor& blocks, const Rules& r) {
  std::vector<Tensor> p;
  for (const auto& np : model.parameters())
    p.push_back(np.tensor.detach().to(torch::kFloat64).clone().requires_grad_(true));
  auto P = [&](const std::string& name) -> const Tensor& {
    for (size_t i = 0; i < p.size(); ++i)
      if (model.parameters()[i].name == name) return p[i];
    throw std::runtime_error("no parameter " + name);
  };
  const int64_t B = idx.size(0), T = idx.size(1), C = model.config().n_embd,
                H = model.config().n_head;
  auto x = torch::embedding(P("wte.weight"), idx) + P("wpe.weight").narrow(0, 0, T);
  auto h = torch::layer_norm(x, {C}, P("h.0.ln_1.weight"), P("h.0.ln_1.bias"), 1e-5);
  auto qkv = torch::matmul(h, P("h.0.attn.c_attn.weight")) + P("h.0.attn.c_attn.bias");
  auto q = qkv.narrow(2, 0, C).reshape({B, T, H, C / H});
  auto k = qkv.narrow(2, C, C).reshape({B, T, H, C / H});
  auto v = qkv.narrow(2, 2 * C, C).reshape({B, T, H, C / H});
  const auto outs = NaiveAttention::apply(q, k, v, blocks, static_cast<int64_t>(r.mechanism),
                                          r.lambda, r.sigma, r.kappa, r.theta, r.rho, r.gamma);
  auto y = torch::matmul(outs[0].reshape({B, T, C}), P("h.0.attn.c_proj.weight")) +
           P("h.0.attn.c_proj.bias");
  x = x + y;
  auto m = torch::layer_norm(x, {C}, P("h.0.ln_2.weight"), P("h.0.ln_2.bias"), 1e-5);
  m = torch::gelu(torch::matmul(m, P("h.0.mlp.c_fc.weight")) + P("h.0.mlp.c_fc.bias"), "tanh");
  x = x + torch::matmul(m, P("h.0.mlp.c_proj.weight")) + P("h.0.mlp.c_proj.bias");
  x = torch::layer_norm(x, {C}, P("ln_f.weight"), P("ln_f.bias"), 1e-5);
  const auto logits = torch::matmul(x, P("wte.weight").t());
  Reference ref;
  ref.loss =
      torch::nn::functional::cross_entropy(logits.reshape({B * T, -1}), targets.reshape({B * T}));
  ref.penalty = outs[1];
  ref.attention = outs[2];
  (ref.loss + ref.penalty).backward();
  for (const auto& t : p) ref.grads.push_back(t.grad().defined() ? t.grad() : torch::zeros_like(t));
  return ref;
}

// ---------------------------------------------------------------------------------------
// check

struct Shape {
  int64_t B, H, T, D;
};

struct CaseResult {
  double attn_err = 0, loss_err = 0, penalty_err = 0, grad_err = 0;
  std::string worst_grad;
  bool ok = false;
};

CaseResult check_case(Mechanism mechanism, const Shape& s, double lambda, uint64_t seed) {
  GptConfig g;
  g.n_layer = 1;
  g.n_head = s.H;
  g.n_embd = s.H * s.D;
  g.block_size = s.T;
  g.vocab_size = 37;
  Gpt2 model(g, torch::kCPU);
  model.init_weights(seed);
  auto gen = at::make_generator<at::CPUGeneratorImpl>(seed + 1000);
  {
    // Non-trivial biases and gains; larger query/key weights so attention is far from uniform.
    torch::NoGradGuard no_grad;
    for (const auto& p : model.parameters()) {
      if (p.tensor.dim() == 1) p.tensor.add_(at::normal(0.0, 0.1, p.tensor.sizes(), gen));
      if (p.name == "h.0.attn.c_attn.weight") p.tensor.mul_(8.0);
    }
  }
  const auto idx = at::randint(g.vocab_size, {s.B, s.T}, gen, torch::kInt64);
  const auto targets = at::randint(g.vocab_size, {s.B, s.T}, gen, torch::kInt64);
  // Random partitions into contiguous blocks: a new block starts with probability 0.3.
  const auto starts = at::rand({s.B, s.T}, gen).lt(0.3).to(torch::kInt64);
  starts.select(1, 0).zero_();
  const auto blocks = starts.cumsum(1).contiguous();

  Locality loc;
  loc.mechanism = mechanism;
  loc.lambdas = {lambda};
  const Rules rules{mechanism, lambda, loc.sigma, loc.kappa, loc.theta, loc.rho, loc.gamma};

  ForwardOptions opts;
  opts.want_attention = true;
  const ForwardOutput out = model.forward(idx, targets, blocks, loc, opts);
  for (const auto& p : model.parameters()) p.tensor.mutable_grad().reset();
  (out.loss + out.penalty).backward();

  const Reference ref = reference_forward_backward(model, idx, targets, blocks, rules);
  CaseResult r;
  r.attn_err = (out.attention.at(0).to(torch::kFloat64) - ref.attention).abs().max().item<double>();
  r.loss_err = std::abs(out.loss.item<double>() - ref.loss.item<double>());
  r.penalty_err = std::abs(out.penalty.item<double>() - ref.penalty.item<double>());
  double total = 0;
  for (const auto& g2 : ref.grads) total += g2.pow(2).sum().item<double>();
  const double floor = 1e-3 * std::sqrt(total) + 1e-12;
  for (size_t i = 0; i < ref.grads.size(); ++i) {
    const auto& p = model.parameters()[i];
    const Tensor ours = p.tensor.grad().defined() ? p.tensor.grad().to(torch::kFloat64)
                                                  : torch::zeros_like(ref.grads[i]);
    const double err = (ours - ref.grads[i]).norm().item<double>() /
                       std::max(ref.grads[i].norm().item<double>(), floor);
    if (err > r.grad_err) r.grad_err = err, r.worst_grad = p.name;
  }
  r.ok = r.attn_err < 1e-5 && r.loss_err < 1e-5 && r.penalty_err < 1e-5 && r.grad_err < 1e-4;
  return r;
}

int run_check() {
  at::set_num_threads(1);
  const Shape shapes[] = {{1, 1, 1, 4}, {2, 2, 7, 4}, {1, 3, 16, 8}, {2, 4, 33, 16}};
  const double lambdas[] = {0.0, 0.3, 1.0};
  int failures = 0, cases = 0;
  uint64_t seed = 1;
  std::printf("mechanism_harness check: the worker's 1-layer GPT-2 vs a naive float64 reference\n");
  for (const Shape& s : shapes)
    for (double lambda : lambdas)
      for (Mechanism m : kMechanisms) {
        const CaseResult r = check_case(m, s, lambda, seed++);
        ++cases;
        failures += !r.ok;
        std::printf(
            "  %-8s B=%ld H=%ld T=%-3ld D=%-3ld lambda=%.1f  attn %.1e  loss %.1e  penalty %.1e  "
            "grad %.1e (%s)  %s\n",
            std::string(to_string(m)).c_str(), static_cast<long>(s.B), static_cast<long>(s.H),
            static_cast<long>(s.T), static_cast<long>(s.D), lambda, r.attn_err, r.loss_err,
            r.penalty_err, r.grad_err, r.worst_grad.c_str(), r.ok ? "OK" : "FAIL");
      }
  std::printf("%d/%d cases OK\n", cases - failures, cases);
  return failures == 0 ? 0 : 1;
}

// ---------------------------------------------------------------------------------------
// perf

struct PerfOptions {
  int threads = 1;
  std::string config = "tiny";
  int reps = 0;         // 0: the config's default
  int64_t vocab = 256;  // a byte-level LM head: the transformer blocks dominate the step
  std::string schedule = "quintic";
};

int run_perf(const PerfOptions& o) {
  GptConfig g;
  int64_t batch = 8;
  int reps = o.reps;
  if (o.config == "tiny") {
    g.n_layer = 6, g.n_head = 4, g.n_embd = 256, g.block_size = 128, batch = 8;
    if (reps == 0) reps = 10;
  } else if (o.config == "gpt2") {
    g.n_layer = 12, g.n_head = 12, g.n_embd = 768, g.block_size = 1024, batch = 1;
    if (reps == 0) reps = 3;
  } else {
    std::fprintf(stderr, "mechanism_harness: unknown --config '%s' (tiny or gpt2)\n",
                 o.config.c_str());
    return 2;
  }
  g.vocab_size = o.vocab;
  at::set_num_threads(o.threads);
  const int64_t T = g.block_size;
  std::vector<double> lambdas;
  try {
    lambdas = Schedule::parse(o.schedule).lambdas(static_cast<int>(g.n_layer));
  } catch (const std::exception& e) {
    std::fprintf(stderr, "mechanism_harness: --schedule: %s\n", e.what());
    return 2;
  }
  std::printf(
      "mechanism_harness perf: config %s (L=%ld H=%ld C=%ld T=%ld B=%ld V=%ld), schedule %s, %d "
      "thread%s\n",
      o.config.c_str(), static_cast<long>(g.n_layer), static_cast<long>(g.n_head),
      static_cast<long>(g.n_embd), static_cast<long>(T), static_cast<long>(batch),
      static_cast<long>(g.vocab_size), o.schedule.c_str(), o.threads, o.threads == 1 ? "" : "s");
  std::printf("BLAS: %s\n", blas_description().c_str());
  std::printf("lambdas:");
  for (double l : lambdas) std::printf(" %.3g", l);
  std::printf("\n");

  Gpt2 model(g, torch::kCPU);
  model.init_weights(0);
  auto gen = at::make_generator<at::CPUGeneratorImpl>(1);
  const auto idx = at::randint(g.vocab_size, {batch, T}, gen, torch::kInt64);
  const auto targets = at::randint(g.vocab_size, {batch, T}, gen, torch::kInt64);
  // Sentence-like blocks: a new block every ~20 tokens on average.
  const auto starts = at::rand({batch, T}, gen).lt(0.05).to(torch::kInt64);
  starts.select(1, 0).zero_();
  const auto blocks = starts.cumsum(1).contiguous();

  const size_t M = std::size(kMechanisms);
  std::vector<std::vector<double>> ms(M);
  auto step = [&](Mechanism m) {
    Locality loc;
    loc.mechanism = m;
    loc.lambdas = lambdas;
    for (const auto& p : model.parameters()) p.tensor.mutable_grad().reset();
    const auto t0 = std::chrono::steady_clock::now();
    const ForwardOutput out = model.forward(idx, targets, blocks, loc, {});
    (out.loss + out.penalty).backward();
    return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  };
  const int warmup = 1;
  for (int rep = 0; rep < warmup + reps; ++rep) {
    for (size_t k = 0; k < M; ++k) {
      const size_t i = (k + static_cast<size_t>(rep)) % M;  // rotate the order every repetition
      const double t = step(kMechanisms[i]);
      if (rep >= warmup) ms[i].push_back(t);
    }
    std::fprintf(stderr, "\rrepetition %d/%d", rep + 1, warmup + reps);
  }
  std::fprintf(stderr, "\n");
  auto median = [](std::vector<double> v) {
    std::sort(v.begin(), v.end());
    const size_t n = v.size();
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
  };
  const double base = median(ms[0]);
  std::printf("\n%-10s %12s %10s %12s %14s\n", "mechanism", "ms/step", "min ms", "ratio",
              "extra ms");
  for (size_t i = 0; i < M; ++i) {
    const double med = median(ms[i]);
    std::printf("%-10s %12.2f %10.2f %12.3f %+14.2f\n",
                std::string(to_string(kMechanisms[i])).c_str(), med,
                *std::min_element(ms[i].begin(), ms[i].end()), med / base, med - base);
  }
  std::printf(
      "(median of %d interleaved repetitions; forward + backward of the full model incl. LM "
      "head)\n",
      reps);
  return 0;
}

int usage() {
  std::fprintf(
      stderr,
      "usage: mechanism_harness check\n"
      "       mechanism_harness perf [--threads N] [--config tiny|gpt2] [--reps N] [--vocab V]"
      " [--schedule SPEC]\n");
  return 2;
}

}  // namespace
}  // namespace locsweep

int main(int argc, char** argv) {
  using namespace locsweep;
  if (argc < 2) return usage();
  const std::string mode = argv[1];
  try {
    if (mode == "check" && argc == 2) return run_check();
    if (mode == "perf") {
      PerfOptions o;
      for (int i = 2; i < argc; ++i) {
        const std::string flag = argv[i];
        if (i + 1 >= argc) return usage();
        const std::string value = argv[++i];
        if (flag == "--threads") {
          o.threads = std::atoi(value.c_str());
        } else if (flag == "--config") {
          o.config = value;
        } else if (flag == "--reps") {
          o.reps = std::atoi(value.c_str());
        } else if (flag == "--vocab") {
          o.vocab = std::atoll(value.c_str());
        } else if (flag == "--schedule") {
          o.schedule = value;
        } else {
          return usage();
        }
      }
      if (o.threads < 1 || o.reps < 0 || o.vocab < 2) return usage();
      return run_perf(o);
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "mechanism_harness: %s\n", e.what());
    return 1;
  }
  return usage();
}
