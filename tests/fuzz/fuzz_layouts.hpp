// The tiny GPT-2 the checkpoint fuzz target and its seed share (torch-free): n_layer 1,
// n_head 1, n_embd 8, block_size 4, vocab 16. tests/worker/fuzz_seeds_test.cpp checks that
// this is exactly checkpoint_layout() of a real Gpt2 of that shape, and writes the seeds.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "trial/checkpoint_reader.hpp"

namespace locsweep::fuzz {

inline constexpr int64_t kLayers = 1, kHeads = 1, kWidth = 8, kBlockSize = 4, kVocab = 16;

inline std::vector<std::pair<std::string, std::vector<int64_t>>> tiny_parameters() {
  const int64_t C = kWidth;
  std::vector<std::pair<std::string, std::vector<int64_t>>> p = {{"wte.weight", {kVocab, C}},
                                                                 {"wpe.weight", {kBlockSize, C}}};
  for (int64_t l = 0; l < kLayers; ++l) {
    const std::string h = "h." + std::to_string(l) + ".";
    p.insert(p.end(), {{h + "ln_1.weight", {C}},
                       {h + "ln_1.bias", {C}},
                       {h + "attn.c_attn.weight", {C, 3 * C}},
                       {h + "attn.c_attn.bias", {3 * C}},
                       {h + "attn.c_proj.weight", {C, C}},
                       {h + "attn.c_proj.bias", {C}},
                       {h + "ln_2.weight", {C}},
                       {h + "ln_2.bias", {C}},
                       {h + "mlp.c_fc.weight", {C, 4 * C}},
                       {h + "mlp.c_fc.bias", {4 * C}},
                       {h + "mlp.c_proj.weight", {4 * C, C}},
                       {h + "mlp.c_proj.bias", {C}}});
  }
  p.insert(p.end(), {{"ln_f.weight", {C}}, {"ln_f.bias", {C}}});
  return p;
}

inline std::vector<CheckpointDataset> tiny_checkpoint_layout() {
  std::vector<CheckpointDataset> layout;
  for (const char* group : {"/model/", "/optimizer/exp_avg/", "/optimizer/exp_avg_sq/"})
    for (const auto& [name, shape] : tiny_parameters())
      layout.push_back({group + name, h5::Element::float32, shape});
  layout.push_back({"/rng/dropout", h5::Element::uint8, {}, true, kMaxRngStateBytes});
  layout.push_back({"/train/recent_loss", h5::Element::float64, {}, true, kMaxRecentLosses});
  return layout;
}

}  // namespace locsweep::fuzz
