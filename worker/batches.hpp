// Windows of the token stream: training batches and validation coverage.
//
// The training batch of step s is a pure function of (seed, s): resuming at step s needs no
// saved data-loader state, and every rank and device draws the same windows. (A private
// splitmix64 stream, not std::uniform_int_distribution, whose output varies by library.)
#pragma once

#include <torch/torch.h>

#include <cstdint>
#include <vector>

namespace locsweep {

struct Batch {
  torch::Tensor x;  // [B, T] int64, CPU: input tokens
  torch::Tensor y;  // [B, T] int64, CPU: next tokens
};

Batch training_batch(const std::vector<int32_t>& tokens, int64_t batch_size, int64_t block_size,
                     uint64_t seed, int64_t step);

// Validation windows that together predict every validation token once: full windows of
// block_size, then one shorter tail. Each is (start, length); length tokens are predicted.
struct Window {
  int64_t start;
  int64_t length;
};
std::vector<Window> validation_windows(int64_t n_tokens, int64_t block_size);

// Stacks windows of equal length into a batch.
Batch window_batch(const std::vector<int32_t>& tokens, const std::vector<Window>& windows);

}  // namespace locsweep
