#include "worker/metrics.hpp"

#include <span>

namespace locsweep {

AttentionMetrics::AttentionMetrics(int64_t n_layer, int64_t n_head, std::vector<double> lambdas)
    : sums_(n_layer, n_head, std::move(lambdas)) {}

void AttentionMetrics::add(int64_t layer, const torch::Tensor& attention,
                           const torch::Tensor& blocks) {
  torch::NoGradGuard no_grad;
  const auto a = attention.to(torch::kCPU, torch::kFloat64).contiguous();  // [B, H, T, T]
  const auto b = blocks.to(torch::kCPU, torch::kInt64).contiguous();       // [B, T]
  const int64_t B = a.size(0), H = a.size(1), T = a.size(2);
  const auto* weights = a.data_ptr<double>();
  const auto* ids = b.data_ptr<int64_t>();
  for (int64_t i = 0; i < B; ++i) {
    const std::span<const int64_t> window_blocks(ids + i * T, static_cast<size_t>(T));
    for (int64_t h = 0; h < H; ++h)
      sums_.add(layer, h,
                std::span<const double>(weights + (i * H + h) * T * T, static_cast<size_t>(T * T)),
                window_blocks);
  }
}

}  // namespace locsweep
