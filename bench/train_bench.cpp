// Training and evaluation throughput of locsweep's GPT-2 (the C++ side of bench/run.sh),
// mirroring bench/python/bench_train.py step for step so the two are comparable:
//   tiny       6 layers, 4 heads, 256 wide, T=128, B=8, vocab 50257
//   gpt2-124m  12 layers, 12 heads, 768 wide, T=256, B=2, vocab 50257, block_size 1024
// Random tokens, quintic lambdas, fixed:16 blocks, dropout 0. A training step is forward,
// backward of loss (+ penalty), global-norm clip to 1.0 and AdamW (lr 3e-4, betas 0.9/0.95,
// decay 0.1 on matrices). --plain swaps in the textbook path (full logits + cross_entropy,
// torch::optim::AdamW) to show what the fused LM-head loss and AdamW are worth.
// Prints one JSON line.
#include <fmt/format.h>
#include <torch/csrc/autograd/profiler_legacy.h>
#include <torch/torch.h>
#include <CLI/CLI.hpp>

#include <algorithm>
#include <chrono>
#include <ctime>
#include <nlohmann/json.hpp>
#include <optional>

#include "worker/adamw.hpp"
#include "worker/model.hpp"
#include "worker/runtime_info.hpp"

using namespace locsweep;

namespace {

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0.0 : v[v.size() / 2];
}

double cpu_seconds() {
  return static_cast<double>(std::clock()) / CLOCKS_PER_SEC;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"locsweep GPT-2 training/eval throughput"};
  std::string config = "tiny", mechanism = "none";
  int threads = 0, warmup = 2, steps = 5, eval_steps = -1, seed = 1337;
  int64_t chunk_rows = 0;
  bool plain = false;
  std::string profile;
  app.add_option("--config", config)->check(CLI::IsMember({"tiny", "gpt2-124m"}));
  app.add_option("--mechanism", mechanism)->check(CLI::IsMember(mechanism_names()));
  app.add_option("--threads", threads);
  app.add_option("--warmup", warmup);
  app.add_option("--steps", steps);
  app.add_option("--eval-steps", eval_steps);
  app.add_option("--seed", seed);
  app.add_option("--chunk-rows", chunk_rows, "LM-head rows per chunk (0: default)");
  app.add_flag("--plain", plain, "Textbook path: full logits + cross_entropy, torch::optim::AdamW");
  app.add_option("--profile", profile,
                 "Write a Chrome trace of the last training step to this file");
  CLI11_PARSE(app, argc, argv);
  if (eval_steps < 0) eval_steps = steps;
  if (threads > 0) at::set_num_threads(threads);

  GptConfig cfg;
  int64_t B = 8, T = 128;
  if (config == "tiny") {
    cfg = {6, 4, 256, 128, 50257, 0.0};
  } else {
    cfg = {12, 12, 768, 1024, 50257, 0.0};
    B = 2;
    T = 256;
  }
  Gpt2 model(cfg, torch::kCPU);
  model.init_weights(static_cast<uint64_t>(seed));
  Locality loc;
  loc.mechanism = mechanism_from_string(mechanism);
  for (int64_t l = 0; l < cfg.n_layer; ++l)
    loc.lambdas.push_back(std::pow(static_cast<double>(l) / (cfg.n_layer - 1), 5.0));
  const auto blocks =
      torch::arange(T, torch::kInt64).div(16, "floor").unsqueeze(0).expand({B, T}).contiguous();
  auto gen = at::make_generator<at::CPUGeneratorImpl>(static_cast<uint64_t>(seed));
  auto batch = [&] {
    auto rows = torch::randint(0, cfg.vocab_size, {B, T + 1}, gen, torch::kInt64);
    return std::make_pair(rows.narrow(1, 0, T).contiguous(), rows.narrow(1, 1, T).contiguous());
  };

  std::vector<torch::Tensor> decay, no_decay;
  for (const auto& p : model.parameters()) (p.decay ? decay : no_decay).push_back(p.tensor);
  AdamW fused(model.parameters(), {0.9, 0.95, 1e-8, 0.1});
  std::vector<torch::optim::OptimizerParamGroup> groups;
  groups.emplace_back(decay,
                      std::make_unique<torch::optim::AdamWOptions>(
                          torch::optim::AdamWOptions(3e-4).betas({0.9, 0.95}).weight_decay(0.1)));
  groups.emplace_back(no_decay,
                      std::make_unique<torch::optim::AdamWOptions>(
                          torch::optim::AdamWOptions(3e-4).betas({0.9, 0.95}).weight_decay(0.0)));
  torch::optim::AdamW textbook(groups);
  std::vector<torch::Tensor> all;
  for (const auto& p : model.parameters()) all.push_back(p.tensor);

  auto plain_loss = [&](const torch::Tensor& x, const torch::Tensor& y, ForwardOutput& out) {
    ForwardOptions o;
    o.want_logits = true;
    out = model.forward(x, torch::Tensor(), blocks, loc, o);
    return torch::nn::functional::cross_entropy(out.logits.view({-1, cfg.vocab_size}), y.view(-1));
  };

  std::vector<double> train_s, train_cpu, eval_s, eval_cpu;
  double loss_first = 0, loss_last = 0;
  for (int step = 0; step < warmup + steps; ++step) {
    auto [x, y] = batch();
    std::optional<torch::autograd::profiler::RecordProfile> trace;
    if (!profile.empty() && step + 1 == warmup + steps) trace.emplace(profile);
    const auto t0 = std::chrono::steady_clock::now();
    const double c0 = cpu_seconds();
    ForwardOutput out;
    torch::Tensor loss;
    if (plain) {
      textbook.zero_grad();
      loss = plain_loss(x, y, out);
    } else {
      clear_grads(model.parameters());
      ForwardOptions o;
      o.loss_chunk_rows = chunk_rows;
      out = model.forward(x, y, blocks, loc, o);
      loss = out.loss;
    }
    (loc.mechanism == Mechanism::penalty ? loss + out.penalty : loss).backward();
    if (plain) {
      torch::nn::utils::clip_grad_norm_(all, 1.0);
      textbook.step();
    } else {
      fused.step(3e-4, clip_factor(global_grad_norm(model.parameters()), 1.0));
    }
    const double value = loss.item<double>();
    const double dt = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    if (step == 0) loss_first = value;
    loss_last = value;
    if (step >= warmup) {
      train_s.push_back(dt);
      train_cpu.push_back(cpu_seconds() - c0);
    }
  }
  {
    torch::NoGradGuard no_grad;
    for (int step = 0; step < warmup + eval_steps; ++step) {
      auto [x, y] = batch();
      const auto t0 = std::chrono::steady_clock::now();
      const double c0 = cpu_seconds();
      ForwardOutput out;
      torch::Tensor loss =
          plain ? plain_loss(x, y, out) : model.forward(x, y, blocks, loc, ForwardOptions{}).loss;
      loss.item<double>();
      const double dt =
          std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      if (step >= warmup) {
        eval_s.push_back(dt);
        eval_cpu.push_back(cpu_seconds() - c0);
      }
    }
  }
  const double tr = median(train_s), ev = median(eval_s);
  nlohmann::json out = {{"bench", "train"},
                        {"impl", plain ? "libtorch-cpp-plain" : "libtorch-cpp"},
                        {"config", config},
                        {"mechanism", mechanism},
                        {"threads", at::get_num_threads()},
                        {"batch", B},
                        {"seq", T},
                        {"n_params", model.num_parameters()},
                        {"warmup", warmup},
                        {"steps", steps},
                        {"eval_steps", eval_steps},
                        {"train_tok_s", B * T / tr},
                        {"train_step_ms", 1e3 * tr},
                        {"eval_tok_s", eval_s.empty() ? 0.0 : B * T / ev},
                        {"eval_step_ms", 1e3 * ev},
                        {"train_cpu_ms", 1e3 * median(train_cpu)},
                        {"eval_cpu_ms", 1e3 * median(eval_cpu)},
                        {"loss_first", loss_first},
                        {"loss_last", loss_last},
                        {"blas", blas_description()}};
  fmt::print("{}\n", out.dump());
  return 0;
}
