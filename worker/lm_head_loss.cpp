#include "worker/lm_head_loss.hpp"

#include <algorithm>

namespace locsweep {
namespace {

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

int64_t pick_chunk(int64_t rows, int64_t vocab, int64_t requested) {
  if (requested > 0) return std::min(requested, rows);
  const int64_t target_bytes = 32ll << 20;
  return std::clamp<int64_t>(target_bytes / (vocab * 4), 16, rows);
}

// Sum over the chunk of -log p(target); turns `logits` into softmax - onehot, in place.
torch::Tensor chunk_nll_and_grad(torch::Tensor& logits, const torch::Tensor& targets) {
  at::_log_softmax_out(logits, logits, 1, false);  // row-wise, so in place is safe
  auto index = targets.unsqueeze(1);
  auto nll = logits.gather(1, index).sum().neg();
  logits.exp_();
  logits.scatter_add_(1, index, torch::full({logits.size(0), 1}, -1.0f, logits.options()));
  return nll;
}

struct FusedLinearCrossEntropy : public torch::autograd::Function<FusedLinearCrossEntropy> {
  static torch::Tensor forward(AutogradContext* ctx, const torch::Tensor& x, const torch::Tensor& w,
                               const torch::Tensor& targets, int64_t chunk) {
    const int64_t n = x.size(0);
    auto grad_x = torch::empty_like(x);
    auto grad_w = torch::zeros_like(w);
    auto loss = torch::zeros({}, x.options());
    const float inv_n = 1.0f / static_cast<float>(n);
    auto logits = torch::empty({chunk, w.size(0)}, x.options());
    for (int64_t r = 0; r < n; r += chunk) {
      const int64_t m = std::min(chunk, n - r);
      auto xc = x.narrow(0, r, m);
      auto lc = logits.narrow(0, 0, m);
      at::mm_out(lc, xc, w.t());
      loss.add_(chunk_nll_and_grad(lc, targets.narrow(0, r, m)));
      lc.mul_(inv_n);  // d(mean)/d(logits)
      auto gx = grad_x.narrow(0, r, m);
      at::mm_out(gx, lc, w);
      grad_w.addmm_(lc.t(), xc);
    }
    ctx->saved_data["grad_x"] = grad_x;
    ctx->saved_data["grad_w"] = grad_w;
    return loss.mul_(inv_n);
  }

  static variable_list backward(AutogradContext* ctx, variable_list grad_out) {
    auto grad_x = ctx->saved_data["grad_x"].toTensor();
    auto grad_w = ctx->saved_data["grad_w"].toTensor();
    const auto& g = grad_out[0];
    // The usual case is d(loss)/d(loss) = 1: hand the buffers out without another pass.
    if (!(g.device().is_cpu() && g.item<float>() == 1.0f)) {
      grad_x = grad_x * g;
      grad_w = grad_w * g;
    }
    return {grad_x, grad_w, torch::Tensor(), torch::Tensor()};
  }
};

}  // namespace

torch::Tensor linear_cross_entropy(const torch::Tensor& x, const torch::Tensor& w,
                                   const torch::Tensor& targets, int64_t chunk_rows) {
  const int64_t n = x.size(0);
  const int64_t chunk = pick_chunk(n, w.size(0), chunk_rows);
  const bool needs_grad =
      torch::GradMode::is_enabled() && (x.requires_grad() || w.requires_grad());
  if (needs_grad) return FusedLinearCrossEntropy::apply(x, w, targets, chunk);
  auto loss = torch::zeros({}, x.options());
  auto logits = torch::empty({chunk, w.size(0)}, x.options());
  for (int64_t r = 0; r < n; r += chunk) {
    const int64_t m = std::min(chunk, n - r);
    auto lc = logits.narrow(0, 0, m);
    at::mm_out(lc, x.narrow(0, r, m), w.t());
    at::_log_softmax_out(lc, lc, 1, false);
    loss.sub_(lc.gather(1, targets.narrow(0, r, m).unsqueeze(1)).sum());
  }
  return loss.div_(static_cast<double>(n));
}

}  // namespace locsweep
