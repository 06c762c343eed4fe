// What a checkpoint save costs (worker/checkpoint.hpp), the C++ side of
// bench/checkpoint_save.sh: a GPT-2 with random weights and random AdamW moments (124M: 12
// layers, 768 wide, block 1024, GPT-2 vocabulary; ≈ 1.5 GB of float32), saved --rounds times
// over the same file, then the file's SHA-256 as a finished trial records its final
// checkpoint as an artifact (worker/trial.cpp). Uses only save_checkpoint() and file_sha256(),
// so that the same source builds against older commits, for before/after comparisons.
// Wall and CPU seconds (this process, all threads: on a loaded machine the CPU time of the
// hashing is the steadier figure). Prints one JSON line; removes the file.
#include <fmt/format.h>
#include <torch/torch.h>
#include <CLI/CLI.hpp>

#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "common/files.hpp"
#include "worker/adamw.hpp"
#include "worker/checkpoint.hpp"
#include "worker/model.hpp"

using namespace locsweep;
namespace fs = std::filesystem;

namespace {

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

double cpu_seconds() {
  rusage u{};
  ::getrusage(RUSAGE_SELF, &u);
  const auto s = [](const timeval& t) { return static_cast<double>(t.tv_sec) + t.tv_usec * 1e-6; };
  return s(u.ru_utime) + s(u.ru_stime);
}

// Runs f; appends its wall and CPU seconds.
template <typename F>
void timed(std::vector<double>& wall, std::vector<double>& cpu, F&& f) {
  const auto t0 = std::chrono::steady_clock::now();
  const double c0 = cpu_seconds();
  f();
  cpu.push_back(cpu_seconds() - c0);
  wall.push_back(seconds_since(t0));
}

nlohmann::json summary(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return {{"median", v[v.size() / 2]}, {"min", v.front()}, {"max", v.back()}, {"all", v}};
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"locsweep checkpoint save time"};
  std::string config = "gpt2-124m", dir = ".", label;
  int rounds = 3, threads = 0;
  app.add_option("--config", config)->check(CLI::IsMember({"tiny", "gpt2-124m"}));
  app.add_option("--dir", dir, "Folder the checkpoint is written to (and removed from)");
  app.add_option("--rounds", rounds)->check(CLI::PositiveNumber);
  app.add_option("--threads", threads);
  app.add_option("--label", label, "Copied into the output (e.g. the commit)");
  CLI11_PARSE(app, argc, argv);
  if (threads > 0) at::set_num_threads(threads);

  const GptConfig cfg = config == "tiny" ? GptConfig{6, 4, 256, 128, 50257, 0.0}
                                         : GptConfig{12, 12, 768, 1024, 50257, 0.0};
  Gpt2 model(cfg, torch::kCPU);
  model.init_weights(1337);
  AdamW optimizer(model.parameters(), {0.9, 0.95, 1e-8, 0.1});
  {
    torch::NoGradGuard no_grad;
    for (auto& m : optimizer.exp_avg()) m.normal_(0, 1e-3);
    for (auto& v : optimizer.exp_avg_sq()) v.uniform_(0, 1e-6);
  }
  optimizer.set_step_count(100);
  TrainingState state;
  state.step = 100;
  state.rng_state = at::detail::getDefaultCPUGenerator().get_state();
  state.recent_loss.assign(50, 3.25);

  const fs::path path = fs::path(dir) / fmt::format("checkpoint_bench.{}.h5", ::getpid());
  std::vector<double> save_s, save_cpu, hash_s, hash_cpu;
  int64_t bytes = 0;
  for (int r = 0; r < rounds; ++r) {
    timed(save_s, save_cpu, [&] {
      bytes = save_checkpoint(path, std::string(64, 'b'), "{}", 1, model, optimizer, state).bytes;
    });
    timed(hash_s, hash_cpu, [&] { (void)file_sha256(path); });
  }
  fs::remove(path);
  nlohmann::json out = {{"bench", "checkpoint_save"},
                        {"label", label},
                        {"config", config},
                        {"parameters", model.num_parameters()},
                        {"bytes", bytes},
                        {"rounds", rounds},
                        {"save_s", summary(save_s)},
                        {"save_cpu_s", summary(save_cpu)},
                        {"artifact_hash_s", summary(hash_s)},
                        {"artifact_hash_cpu_s", summary(hash_cpu)}};
  fmt::print("{}\n", out.dump());
}
