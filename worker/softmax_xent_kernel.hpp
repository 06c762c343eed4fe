// The row kernel of the fused LM-head loss: log-sum-exp of a row of logits and, in the same
// sweep, the row turned into its own gradient (softmax minus one-hot, scaled). Torch-free and
// compiled with -O3 for AVX-512/AVX2/baseline (target_clones), with a polynomial exp the
// compiler can vectorise: libtorch 1.13's log_softmax over 50,257 columns runs at ~1 element/ns
// here, this at several times that, and the row stays in L2 between its three passes.
#pragma once

#include <cstdint>

namespace locsweep {

// row: V logits. Returns the row's negative log-likelihood of `target` (lse - row[target]).
// With write_grad, row becomes scale * (softmax(row) - onehot(target)).
double softmax_xent_row(float* row, int64_t vocab, int64_t target, float scale, bool write_grad);

}  // namespace locsweep
