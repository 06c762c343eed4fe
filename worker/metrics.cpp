#include "worker/metrics.hpp"

namespace locsweep {

AttentionMetrics::AttentionMetrics(int64_t n_layer, int64_t n_head, std::vector<double> lambdas)
    : n_layer_(n_layer), n_head_(n_head), lambdas_(std::move(lambdas)) {
  for (int64_t l = 0; l < n_layer; ++l) {
    for (auto* sums : {&entropy_, &entropy_norm_, &mass_, &distance_})
      sums->push_back(torch::zeros({n_head}, torch::kFloat64));
    queries_.push_back(0);
    queries_norm_.push_back(0);
  }
}

void AttentionMetrics::add(int64_t layer, const torch::Tensor& attention,
                           const torch::Tensor& blocks) {
  torch::NoGradGuard no_grad;
  const auto a = attention.to(torch::kFloat64);  // [B, H, T, T]
  const int64_t B = a.size(0), T = a.size(2);
  const auto opts = a.options();
  // a * log2(a) with 0 log 0 = 0.
  const auto plogp =
      torch::where(a > 0, a * torch::log2(a.clamp_min(1e-300)), torch::zeros({}, opts));
  const auto entropy = plogp.sum(-1).neg();  // [B, H, T]
  const auto pos = torch::arange(T, opts);
  const auto same =
      blocks.to(a.device()).unsqueeze(2).eq(blocks.to(a.device()).unsqueeze(1));  // [B,T,T]
  const auto mass = (a * same.unsqueeze(1).to(torch::kFloat64)).sum(-1);
  const auto dist = (a * (pos.unsqueeze(1) - pos.unsqueeze(0)).clamp_min(0)).sum(-1);
  const auto l = static_cast<size_t>(layer);
  entropy_[l] += entropy.sum(std::vector<int64_t>{0, 2}).cpu();
  mass_[l] += mass.sum(std::vector<int64_t>{0, 2}).cpu();
  distance_[l] += dist.sum(std::vector<int64_t>{0, 2}).cpu();
  queries_[l] += static_cast<double>(B * T);
  if (T > 1) {
    const auto norm = entropy.narrow(2, 1, T - 1) / torch::log2(pos.narrow(0, 1, T - 1) + 1);
    entropy_norm_[l] += norm.sum(std::vector<int64_t>{0, 2}).cpu();
    queries_norm_[l] += static_cast<double>(B * (T - 1));
  }
}

std::vector<HeadMetrics> AttentionMetrics::result() const {
  std::vector<HeadMetrics> out;
  for (int64_t l = 0; l < n_layer_; ++l) {
    const auto i = static_cast<size_t>(l);
    if (queries_[i] == 0) continue;
    for (int64_t h = 0; h < n_head_; ++h) {
      HeadMetrics m;
      m.layer = static_cast<int>(l);
      m.head = static_cast<int>(h);
      m.lambda = lambdas_.empty() ? 0.0 : lambdas_[i];
      m.entropy_bits = entropy_[i][h].item<double>() / queries_[i];
      m.entropy_norm =
          queries_norm_[i] > 0 ? entropy_norm_[i][h].item<double>() / queries_norm_[i] : 0.0;
      m.in_block_mass = mass_[i][h].item<double>() / queries_[i];
      m.mean_distance = distance_[i][h].item<double>() / queries_[i];
      out.push_back(m);
    }
  }
  return out;
}

}  // namespace locsweep
