// Recorded attention: for a few validation windows, every layer's and head's attention
// weights, with the tokens, blocks and lambda per layer, in HDF5 (h5py reads it).
//
// Layout (documented in docs/data-formats.md):
//   /            attrs: format="locsweep-attention", version=1, trial_hash, config (JSON),
//                mechanism, schedule, n_layer, n_head, block_size
//   /tokens      int32   [W, T]          input tokens of each window
//   /blocks      int32   [W, T]          block id B(i) of each position
//   /starts      int64   [W]             where each window starts in the validation tokens
//   /lambda      float64 [L]             lambda_l per layer
//   /attention   float16 [W, L, H, T, T] a_ij, query i (row) over key j (column); chunked
//                per (window, layer, head) and deflate-compressed (zeros above the diagonal
//                compress away)
// Reading (validated, torch-free) is in trial/attention_reader.hpp.
#pragma once

#include <torch/torch.h>

#include <filesystem>
#include <string>
#include <vector>

#include "trial/attention_reader.hpp"

namespace locsweep {

struct AttentionRecord {
  torch::Tensor tokens;                  // [W, T] int64
  torch::Tensor blocks;                  // [W, T] int64
  std::vector<int64_t> starts;           // [W]
  std::vector<double> lambdas;           // [L]
  std::vector<torch::Tensor> attention;  // per layer [W, H, T, T], any float type
};

struct AttentionFileInfo {
  int64_t windows = 0;    // windows stored
  int64_t raw_bytes = 0;  // uncompressed size of /attention
  int64_t bytes = 0;      // file size
  std::string sha256;
};

// How many windows fit a raw-size bound (W * L * H * T * T * 2 bytes <= max_bytes).
int64_t attention_windows_within(int64_t windows, int64_t n_layer, int64_t n_head,
                                 int64_t block_size, double max_bytes);

// Writes atomically; `meta` fills the root attributes (trial_hash, config, mechanism, schedule).
AttentionFileInfo write_attention_file(
    const std::filesystem::path& path, const AttentionRecord& record,
    const std::vector<std::pair<std::string, std::string>>& meta);

}  // namespace locsweep
