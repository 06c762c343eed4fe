// Shared helpers of the worker tests (tests/worker/*_test.cpp): temporary folders, files,
// bitwise tensor comparison, a small deterministic corpus, trial configurations from YAML
// text. (Running /usr/bin/python3 for the reference checks: support/python.hpp.)
#pragma once

#include <stdlib.h>
#include <torch/torch.h>

#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "support/temp_dir.hpp"
#include "sweeps/sweep_spec.hpp"
#include "sweeps/trial_config.hpp"
#include "worker/model.hpp"

namespace locsweep::testing {

using test_support::ScopedEnv;
using test_support::TempDir;

namespace fs = std::filesystem;

inline void write_text(const fs::path& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << text;
  if (!out) throw std::runtime_error("cannot write " + path.string());
}

inline std::string read_bytes(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot read " + path.string());
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

// Same dtype, shape and bytes (stricter than torch::equal: NaN payloads and -0 count).
inline bool bitwise_equal(const torch::Tensor& a, const torch::Tensor& b) {
  if (a.defined() != b.defined()) return false;
  if (!a.defined()) return true;
  if (a.scalar_type() != b.scalar_type() || a.sizes() != b.sizes()) return false;
  const auto ca = a.detach().cpu().contiguous(), cb = b.detach().cpu().contiguous();
  return std::memcmp(ca.data_ptr(), cb.data_ptr(), static_cast<size_t>(ca.nbytes())) == 0;
}

// Deterministic English-like prose: sentences of pseudo-random words ending in '.', '!' or
// '?', a paragraph break now and then. About `bytes` bytes.
inline std::string sample_text(size_t bytes, uint64_t seed = 1) {
  static const char* const kWords[] = {"the",   "whale", "sea",  "ship",    "captain", "white",
                                       "deep",  "wind",  "sail", "harpoon", "crew",    "long",
                                       "night", "storm", "boat", "ocean",   "called",  "strange"};
  uint64_t s = seed * 6364136223846793005ull + 1442695040888963407ull;
  auto next = [&s]() {
    s = s * 6364136223846793005ull + 1442695040888963407ull;
    return static_cast<uint32_t>(s >> 33);
  };
  std::string text;
  while (text.size() < bytes) {
    const uint32_t words = 3 + next() % 9;
    for (uint32_t w = 0; w < words; ++w) {
      std::string word = kWords[next() % (sizeof(kWords) / sizeof(kWords[0]))];
      if (w == 0) word[0] = static_cast<char>(word[0] - 'a' + 'A');
      text += word;
      text += w + 1 < words ? " " : "";
    }
    static const char kEnds[] = {'.', '.', '.', '!', '?'};
    text += kEnds[next() % 5];
    text += next() % 6 == 0 ? "\n" : " ";
  }
  return text;
}

// A trial configuration from YAML text (the keys a user writes); relative paths resolve
// against `dir`.
inline TrialConfig config_from_yaml(const std::string& yaml, const fs::path& dir) {
  return parse_trial_config(yaml, (dir / "trial.yaml").string(), dir.string());
}

}  // namespace locsweep::testing

#include <functional>
#include <map>
#include <nlohmann/json.hpp>

#include "trial/progress.hpp"

namespace locsweep::testing {

// Keeps every progress event of a trial; `on_event` (optional) sees each as it arrives.
class RecordingProgress : public ProgressSink {
 public:
  std::function<void(const nlohmann::json&)> on_event;
  std::vector<nlohmann::json> events;

  void event(const nlohmann::json& e) override {
    events.push_back(e);
    if (on_event) on_event(e);
  }
  // step -> training loss, from the "step" events.
  std::map<int, double> losses() const {
    std::map<int, double> out;
    for (const auto& e : events)
      if (e.at("event") == "step") out[e.at("step").get<int>()] = e.at("loss").get<double>();
    return out;
  }
  std::vector<nlohmann::json> of_kind(const std::string& kind) const {
    std::vector<nlohmann::json> out;
    for (const auto& e : events)
      if (e.at("event") == kind) out.push_back(e);
    return out;
  }
};

// A folder with a small text corpus (text.txt) and its own token cache (LOCSWEEP_DATA), for
// trials that depend on nothing outside it.
class TrialDir {
 public:
  explicit TrialDir(size_t text_bytes = 40000)
      : data_env_("LOCSWEEP_DATA", (dir_ / "data").string()) {
    fs::create_directories(dir_ / "data");
    text_ = sample_text(text_bytes);
    write_text(dir_ / "text.txt", text_);
  }
  const fs::path& path() const { return dir_.path(); }
  fs::path operator/(const std::string& name) const { return dir_ / name; }
  const std::string& text() const { return text_; }

 private:
  TempDir dir_;
  ScopedEnv data_env_;
  std::string text_;
};

// A model of `config` on the CPU with non-trivial biases and LayerNorm gains (initial weights
// plus N(0, 0.1) noise on every 1-d parameter), so every parameter carries signal.
inline Gpt2 random_model(const GptConfig& config, uint64_t seed) {
  Gpt2 model(config, torch::kCPU);
  model.init_weights(seed);
  torch::NoGradGuard no_grad;
  auto gen = at::make_generator<at::CPUGeneratorImpl>(seed + 100);
  for (const auto& p : model.parameters())
    if (p.tensor.dim() == 1) p.tensor.add_(at::normal(0.0, 0.1, p.tensor.sizes(), gen));
  return model;
}

}  // namespace locsweep::testing
