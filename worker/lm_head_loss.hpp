// The LM head and its cross-entropy as one operation: mean_i -log softmax(x_i W^T)[t_i].
//
// A plain GPT-2 step materialises B*T x V logits (205 MB for B*T = 1,024 and GPT-2's 50,257
// tokens), then log-softmax, its gradient, and their temporaries: four such tensors and as
// many passes over memory. Here the logits are computed a chunk of rows at a time and turned
// into their gradient in place (softmax minus one-hot) right away; the two backward matmuls
// run on the chunk while it is hot, and backward() only hands out what forward computed.
#pragma once

#include <torch/torch.h>

namespace locsweep {

// x: [N, C], w: [V, C] (the tied embedding), targets: [N] int64. Returns the mean NLL as a
// scalar that autograd differentiates w.r.t. x and w. Without grad mode (evaluation), only
// the loss is computed. chunk_rows <= 0 picks a default that keeps a chunk near 32 MB.
torch::Tensor linear_cross_entropy(const torch::Tensor& x, const torch::Tensor& w,
                                   const torch::Tensor& targets, int64_t chunk_rows = 0);

}  // namespace locsweep
