#include "worker/adamw_kernel.hpp"

#include <cmath>

namespace locsweep {

// Compiled for AVX-512, AVX2 and baseline x86-64; the loader picks the best the CPU has.
__attribute__((target_clones("avx512f", "avx2", "default"))) void adamw_range(
    float* __restrict p, const float* __restrict g, float* __restrict m, float* __restrict v,
    int64_t begin, int64_t end, AdamWScalars s) {
  for (int64_t i = begin; i < end; ++i) {
    const float grad = g[i] * s.grad_scale;
    const float mi = s.beta1 * m[i] + s.one_minus_beta1 * grad;
    const float vi = s.beta2 * v[i] + s.one_minus_beta2 * grad * grad;
    m[i] = mi;
    v[i] = vi;
    const float denom = std::sqrt(vi) * s.inv_bc2_sqrt + s.eps;
    p[i] = p[i] * s.decay - s.step_size * mi / denom;
  }
}

}  // namespace locsweep
