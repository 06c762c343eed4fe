#include "worker/lm_head_loss.hpp"

#include <ATen/Parallel.h>

#include <algorithm>
#include <vector>

#include "worker/softmax_xent_kernel.hpp"

namespace locsweep {
namespace {

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

// Fewer, larger chunks keep the matmuls at BLAS peak (measured: 64-row chunks make the LM head
// ~30 % slower than one 1,024-row chunk); the cap bounds the logits buffer at 256 MB.
int64_t pick_chunk(int64_t rows, int64_t vocab, int64_t requested) {
  if (requested > 0) return std::min(requested, rows);
  const int64_t cap_bytes = 256ll << 20;
  return std::clamp<int64_t>(cap_bytes / (vocab * 4), 16, rows);
}

// Sum over the chunk's rows of -log p(target); with write_grad, turns `logits` into
// scale * (softmax - onehot) in place. CPU float rows go through the vectorised row kernel
// (rows in parallel, summed in row order so the result does not depend on the thread count
// beyond the kernel's own order); other devices use tensor ops.
double chunk_nll(torch::Tensor& logits, const torch::Tensor& targets, float scale,
                 bool write_grad) {
  const int64_t m = logits.size(0), vocab = logits.size(1);
  if (logits.is_cpu() && logits.scalar_type() == torch::kFloat32 && logits.is_contiguous()) {
    const auto t = targets.to(torch::kInt64).contiguous();
    const int64_t* target = t.data_ptr<int64_t>();
    float* rows = logits.data_ptr<float>();
    std::vector<double> nll(static_cast<size_t>(m));
    at::parallel_for(0, m, 1, [&](int64_t begin, int64_t end) {
      for (int64_t r = begin; r < end; ++r)
        nll[static_cast<size_t>(r)] =
            softmax_xent_row(rows + r * vocab, vocab, target[r], scale, write_grad);
    });
    double sum = 0;
    for (double v : nll) sum += v;
    return sum;
  }
  at::_log_softmax_out(logits, logits, 1, false);
  auto index = targets.unsqueeze(1);
  const double sum = -logits.gather(1, index).sum().item<double>();
  if (write_grad) {
    logits.exp_();
    logits.scatter_add_(1, index, torch::full({m, 1}, -1.0f, logits.options()));
    logits.mul_(scale);
  }
  return sum;
}

struct FusedLinearCrossEntropy : public torch::autograd::Function<FusedLinearCrossEntropy> {
  static torch::Tensor forward(AutogradContext* ctx, const torch::Tensor& x, const torch::Tensor& w,
                               const torch::Tensor& targets, int64_t chunk) {
    const int64_t n = x.size(0);
    auto grad_x = torch::empty_like(x);
    auto grad_w = torch::empty_like(w);  // the first chunk writes it, later ones add
    double loss = 0;
    const float inv_n = 1.0f / static_cast<float>(n);
    auto logits = torch::empty({chunk, w.size(0)}, x.options());
    for (int64_t r = 0; r < n; r += chunk) {
      const int64_t m = std::min(chunk, n - r);
      auto xc = x.narrow(0, r, m);
      auto lc = logits.narrow(0, 0, m);
      at::mm_out(lc, xc, w.t());
      loss += chunk_nll(lc, targets.narrow(0, r, m), inv_n, true);  // lc: d(mean)/d(logits)
      auto gx = grad_x.narrow(0, r, m);
      at::mm_out(gx, lc, w);
      if (r == 0)
        at::mm_out(grad_w, lc.t(), xc);
      else
        grad_w.addmm_(lc.t(), xc);
    }
    ctx->saved_data["grad_x"] = grad_x;
    ctx->saved_data["grad_w"] = grad_w;
    return torch::full({}, loss / static_cast<double>(n), x.options());
  }

  static variable_list backward(AutogradContext* ctx, variable_list grad_out) {
    // Take the buffers out of the context: a gradient nobody else holds is adopted by autograd
    // as the parameter's .grad without a copy (a shared one would be cloned: 51-154 MB).
    auto grad_x = ctx->saved_data["grad_x"].toTensor();
    auto grad_w = ctx->saved_data["grad_w"].toTensor();
    ctx->saved_data.clear();
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
  const bool needs_grad = torch::GradMode::is_enabled() && (x.requires_grad() || w.requires_grad());
  if (needs_grad) return FusedLinearCrossEntropy::apply(x, w, targets, chunk);
  double loss = 0;
  auto logits = torch::empty({chunk, w.size(0)}, x.options());
  for (int64_t r = 0; r < n; r += chunk) {
    const int64_t m = std::min(chunk, n - r);
    auto lc = logits.narrow(0, 0, m);
    at::mm_out(lc, x.narrow(0, r, m), w.t());
    loss += chunk_nll(lc, targets.narrow(0, r, m), 1.0f, false);
  }
  return torch::full({}, loss / static_cast<double>(n), x.options());
}

}  // namespace locsweep
