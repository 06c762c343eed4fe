// The fused AdamW update over a range of one parameter, torch-free so that it can be
// compiled with -O3 -fno-math-errno (vectorised sqrt) without disturbing the torch PCH.
#pragma once

#include <cstdint>

namespace locsweep {

struct AdamWScalars {
  float beta1, beta2, one_minus_beta1, one_minus_beta2;
  float step_size;     // lr / (1 - beta1^t)
  float inv_bc2_sqrt;  // 1 / sqrt(1 - beta2^t)
  float eps;
  float decay;  // 1 - lr * weight_decay (1 for vectors)
  float grad_scale;
};

// p, m, v updated in place over [begin, end) from gradient g. No reductions: the result does
// not depend on how a caller splits the range across threads.
void adamw_range(float* __restrict p, const float* __restrict g, float* __restrict m,
                 float* __restrict v, int64_t begin, int64_t end, AdamWScalars s);

}  // namespace locsweep
