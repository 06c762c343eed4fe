#include "worker/softmax_xent_kernel.hpp"

#include <bit>
#include <cmath>

namespace locsweep {
namespace {

// e^x for x <= 0 (inputs are shifted by the row maximum), branch-free so it vectorises:
// x = n ln2 + r with |r| <= ln2/2 (Cody-Waite split of ln2), e^r by the Cephes expf
// polynomial (relative error ~1e-7), 2^n assembled in the exponent bits. Below -87 the result
// flushes towards 2^-126, far under float32's resolution of a probability that matters.
inline float exp_nonpositive(float x) {
  x = x < -87.0f ? -87.0f : x;
  // Round to nearest by the 1.5 * 2^23 trick: plain float arithmetic, no libm call.
  const float n = (x * 1.44269504088896341f + 12582912.0f) - 12582912.0f;
  float r = x - n * 0.693359375f;
  r = r + n * 2.12194440e-4f;
  float p = 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  p = p * r * r + r + 1.0f;
  const int32_t bits = (static_cast<int32_t>(n) + 127) << 23;
  return p * std::bit_cast<float>(bits);
}

}  // namespace

__attribute__((target_clones("avx512f", "avx2", "default"))) double softmax_xent_row(
    float* row, int64_t vocab, int64_t target, float scale, bool write_grad) {
  float max = -INFINITY;
#pragma omp simd reduction(max : max)
  for (int64_t j = 0; j < vocab; ++j) max = row[j] > max ? row[j] : max;
  float sum = 0.0f;
#pragma omp simd reduction(+ : sum)
  for (int64_t j = 0; j < vocab; ++j) sum += exp_nonpositive(row[j] - max);
  const double lse = static_cast<double>(max) + std::log(static_cast<double>(sum));
  const double nll = lse - static_cast<double>(row[target]);
  if (write_grad) {
    const float factor = scale / sum;
#pragma omp simd
    for (int64_t j = 0; j < vocab; ++j) row[j] = exp_nonpositive(row[j] - max) * factor;
    row[target] -= scale;
  }
  return nll;
}

}  // namespace locsweep
