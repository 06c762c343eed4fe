// The LM head and its cross-entropy as one operation: mean_i -log softmax(x_i W^T)[t_i].
//
// A plain GPT-2 step materialises B*T x V logits (205 MB for B*T = 1,024 and GPT-2's 50,257
// tokens), then log-softmax, its gradient, and their temporaries: four such tensors and as
// many passes over memory. Here the logits of a chunk of rows (all rows, up to 256 MB) are
// turned into their own gradient in place (softmax minus one-hot, one vectorised row kernel,
// worker/softmax_xent_kernel.hpp) right away; the two backward matmuls run during forward, and
// backward() only hands out what forward computed.
#pragma once

#include <torch/torch.h>

namespace locsweep {

// x: [N, C], w: [V, C] (the tied embedding), targets: [N] int64. Returns the mean NLL as a
// scalar that autograd differentiates w.r.t. x and w. Without grad mode (evaluation), only
// the loss is computed. chunk_rows <= 0: as many rows as fit 256 MB of logits.
torch::Tensor linear_cross_entropy(const torch::Tensor& x, const torch::Tensor& w,
                                   const torch::Tensor& targets, int64_t chunk_rows = 0);

}  // namespace locsweep
