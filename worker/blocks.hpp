// Blocks B(i): contiguous spans of a window that locality keeps attention within
// (../shared/SPEC.md, "Blocks"). Ids count from 0 in each window.
//   sentence     a block ends after a token whose text ends with '.', '!', '?' or '\n'
//   fixed:N      every N tokens
//   adaptive:tau sentence blocks, then neighbours merged left to right while the cosine
//                similarity of their mean input (token) embeddings is >= tau
#pragma once

#include <torch/torch.h>

#include <cstdint>
#include <string>
#include <vector>

#include "sweeps/trial_config.hpp"

namespace locsweep {

// For each token id: 1 when its bytes end a sentence. `token_bytes(id)` gives a token's text.
template <class TokenBytes>
std::vector<uint8_t> sentence_end_table(int vocab_size, TokenBytes token_bytes) {
  std::vector<uint8_t> table(static_cast<size_t>(vocab_size), 0);
  for (int id = 0; id < vocab_size; ++id) {
    const std::string& text = token_bytes(id);
    if (text.empty()) continue;
    const char last = text.back();
    table[static_cast<size_t>(id)] = last == '.' || last == '!' || last == '?' || last == '\n';
  }
  return table;
}

// tokens: [B, T] int64 on the CPU. `embedding` ([V, C], any device) is read only for
// adaptive blocks. Returns [B, T] int64 block ids on the CPU.
torch::Tensor block_ids(const torch::Tensor& tokens, const BlockSpec& spec,
                        const std::vector<uint8_t>& ends_sentence, const torch::Tensor& embedding);

}  // namespace locsweep
