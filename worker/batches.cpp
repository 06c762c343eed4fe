#include "worker/batches.hpp"

#include "common/error.hpp"

namespace locsweep {
namespace {

uint64_t splitmix64(uint64_t& state) {
  uint64_t z = (state += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

void fill_window(const std::vector<int32_t>& tokens, int64_t start, int64_t length, int64_t* x,
                 int64_t* y) {
  for (int64_t t = 0; t < length; ++t) {
    x[t] = tokens[static_cast<size_t>(start + t)];
    y[t] = tokens[static_cast<size_t>(start + t + 1)];
  }
}

}  // namespace

Batch training_batch(const std::vector<int32_t>& tokens, int64_t batch_size, int64_t block_size,
                     uint64_t seed, int64_t step) {
  const int64_t starts = static_cast<int64_t>(tokens.size()) - block_size;  // start + T + 1 <= n
  if (starts < 1) throw Error("training split shorter than one window");
  Batch batch{torch::empty({batch_size, block_size}, torch::kInt64),
              torch::empty({batch_size, block_size}, torch::kInt64)};
  uint64_t state =
      seed * 0x100000001b3ull ^ (static_cast<uint64_t>(step) + 1) * 0xd6e8feb86659fd93ull;
  for (int64_t b = 0; b < batch_size; ++b) {
    const auto start = static_cast<int64_t>(splitmix64(state) % static_cast<uint64_t>(starts));
    fill_window(tokens, start, block_size, batch.x.data_ptr<int64_t>() + b * block_size,
                batch.y.data_ptr<int64_t>() + b * block_size);
  }
  return batch;
}

std::vector<Window> validation_windows(int64_t n_tokens, int64_t block_size) {
  std::vector<Window> windows;
  const int64_t predicted = n_tokens - 1;
  for (int64_t start = 0; start < predicted; start += block_size)
    windows.push_back({start, std::min(block_size, predicted - start)});
  return windows;
}

Batch window_batch(const std::vector<int32_t>& tokens, const std::vector<Window>& windows) {
  const auto B = static_cast<int64_t>(windows.size());
  const int64_t T = windows.front().length;
  Batch batch{torch::empty({B, T}, torch::kInt64), torch::empty({B, T}, torch::kInt64)};
  for (int64_t b = 0; b < B; ++b) {
    if (windows[static_cast<size_t>(b)].length != T) throw Error("window_batch: unequal lengths");
    fill_window(tokens, windows[static_cast<size_t>(b)].start, T,
                batch.x.data_ptr<int64_t>() + b * T, batch.y.data_ptr<int64_t>() + b * T);
  }
  return batch;
}

}  // namespace locsweep
