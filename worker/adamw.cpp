#include "worker/adamw.hpp"
#include "worker/adamw_kernel.hpp"

#include <ATen/Parallel.h>

#include <cmath>

namespace locsweep {

AdamW::AdamW(const std::vector<NamedParameter>& params, const AdamWOptions& options)
    : params_(params), options_(options) {
  for (const auto& p : params_) {
    m_.push_back(torch::zeros_like(p.tensor, torch::MemoryFormat::Contiguous));
    v_.push_back(torch::zeros_like(p.tensor, torch::MemoryFormat::Contiguous));
  }
}

void AdamW::step(double lr, double grad_scale) {
  torch::NoGradGuard no_grad;
  ++step_;
  const double bc1 = 1.0 - std::pow(options_.beta1, static_cast<double>(step_));
  const double bc2 = 1.0 - std::pow(options_.beta2, static_cast<double>(step_));
  for (size_t i = 0; i < params_.size(); ++i) {
    const auto& param = params_[i];
    if (!param.tensor.grad().defined()) continue;
    // The embedding alone (no LM head in the graph) leaves a sparse gradient; make it dense.
    const torch::Tensor grad =
        param.tensor.grad().is_sparse() ? param.tensor.grad().to_dense() : param.tensor.grad();
    const double decay = param.decay ? 1.0 - lr * options_.weight_decay : 1.0;
    auto& p = param.tensor;
    auto& m = m_[i];
    auto& v = v_[i];
    if (p.is_cpu() && p.is_contiguous() && grad.is_contiguous() &&
        p.scalar_type() == torch::kFloat32) {
      const AdamWScalars s{static_cast<float>(options_.beta1),
                           static_cast<float>(options_.beta2),
                           static_cast<float>(1.0 - options_.beta1),
                           static_cast<float>(1.0 - options_.beta2),
                           static_cast<float>(lr / bc1),
                           static_cast<float>(1.0 / std::sqrt(bc2)),
                           static_cast<float>(options_.eps),
                           static_cast<float>(decay),
                           static_cast<float>(grad_scale)};
      float* pp = p.data_ptr<float>();
      const float* gp = grad.data_ptr<float>();
      float* mp = m.data_ptr<float>();
      float* vp = v.data_ptr<float>();
      at::parallel_for(0, p.numel(), 1 << 15, [&](int64_t begin, int64_t end) {
        adamw_range(pp, gp, mp, vp, begin, end, s);
      });
    } else {
      // Other devices: the same update with tensor ops (GPUs have the bandwidth for it).
      auto g = grad * grad_scale;
      m.mul_(options_.beta1).add_(g, 1.0 - options_.beta1);
      v.mul_(options_.beta2).addcmul_(g, g, 1.0 - options_.beta2);
      auto denom = (v.sqrt() / std::sqrt(bc2)).add_(options_.eps);
      p.mul_(decay).addcdiv_(m, denom, -lr / bc1);
    }
  }
}

double global_grad_norm(const std::vector<NamedParameter>& params) {
  torch::NoGradGuard no_grad;
  double sum = 0.0;
  for (const auto& p : params) {
    if (!p.tensor.grad().defined()) continue;
    const torch::Tensor g =
        p.tensor.grad().is_sparse() ? p.tensor.grad().coalesce().values() : p.tensor.grad();
    const double n = g.norm().item<double>();
    sum += n * n;
  }
  return std::sqrt(sum);
}

double clip_factor(double norm, double max_norm) {
  if (max_norm <= 0.0 || !(norm > max_norm)) return 1.0;
  return max_norm / (norm + 1e-6);
}

void clear_grads(const std::vector<NamedParameter>& params) {
  for (const auto& p : params) p.tensor.mutable_grad().reset();
}

}  // namespace locsweep
