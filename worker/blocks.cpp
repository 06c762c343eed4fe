#include "worker/blocks.hpp"

#include <cmath>

namespace locsweep {
namespace {

// Sentence blocks of one window: the id increments after each sentence-ending token.
void sentence_blocks(const int64_t* tokens, int64_t T, const std::vector<uint8_t>& ends,
                     int64_t* out) {
  int64_t id = 0;
  for (int64_t i = 0; i < T; ++i) {
    out[i] = id;
    const auto tok = static_cast<size_t>(tokens[i]);
    if (tok < ends.size() && ends[tok]) ++id;
  }
}

double cosine(const std::vector<double>& a, const std::vector<double>& b) {
  double dot = 0, na = 0, nb = 0;
  for (size_t k = 0; k < a.size(); ++k) {
    dot += a[k] * b[k];
    na += a[k] * a[k];
    nb += b[k] * b[k];
  }
  return (na == 0 || nb == 0) ? 0.0 : dot / std::sqrt(na * nb);
}

// Merges neighbouring sentence blocks of one window whose mean embeddings are similar.
// `rows` holds the input embedding of each position of the window, [T, C] row-major.
void merge_adaptive(const float* rows, int64_t T, int64_t C, double tau, int64_t* ids) {
  std::vector<double> merged_sum(static_cast<size_t>(C)), next_sum(static_cast<size_t>(C));
  int64_t merged_id = 0, start = 0;
  // Sum of embeddings over the current merged block.
  auto add_token = [&](std::vector<double>& sum, int64_t i) {
    const float* row = rows + i * C;
    for (int64_t k = 0; k < C; ++k) sum[static_cast<size_t>(k)] += row[k];
  };
  int64_t i = 0;
  while (i < T && ids[i] == ids[0]) add_token(merged_sum, i++);
  std::vector<int64_t> out(static_cast<size_t>(T), 0);
  while (i < T) {
    start = i;
    std::fill(next_sum.begin(), next_sum.end(), 0.0);
    const int64_t sentence = ids[i];
    while (i < T && ids[i] == sentence) add_token(next_sum, i++);
    // Cosine of the means equals cosine of the sums: the scale does not matter.
    if (cosine(merged_sum, next_sum) >= tau) {
      for (int64_t k = 0; k < C; ++k)
        merged_sum[static_cast<size_t>(k)] += next_sum[static_cast<size_t>(k)];
    } else {
      ++merged_id;
      merged_sum = next_sum;
    }
    for (int64_t j = start; j < i; ++j) out[static_cast<size_t>(j)] = merged_id;
  }
  for (int64_t j = 0; j < T; ++j) ids[j] = out[static_cast<size_t>(j)];
}

}  // namespace

torch::Tensor block_ids(const torch::Tensor& tokens_in, const BlockSpec& spec,
                        const std::vector<uint8_t>& ends_sentence, const torch::Tensor& embedding) {
  const auto tokens = tokens_in.to(torch::kCPU, torch::kInt64).contiguous();
  const int64_t B = tokens.size(0), T = tokens.size(1);
  auto ids = torch::empty({B, T}, torch::kInt64);
  if (spec.kind == BlockSpec::Kind::fixed) {
    auto pos = torch::arange(T, torch::kInt64).div(spec.size, "floor");
    ids.copy_(pos.unsqueeze(0).expand({B, T}));
    return ids;
  }
  const int64_t* tok = tokens.data_ptr<int64_t>();
  int64_t* out = ids.data_ptr<int64_t>();
  for (int64_t b = 0; b < B; ++b) sentence_blocks(tok + b * T, T, ends_sentence, out + b * T);
  if (spec.kind == BlockSpec::Kind::adaptive) {
    torch::NoGradGuard no_grad;
    // Only the rows of the tokens present travel to the CPU, not the whole [V, C] matrix.
    const auto index = tokens.view({B * T}).to(embedding.device());
    const auto rows =
        embedding.detach().index_select(0, index).to(torch::kCPU, torch::kFloat32).contiguous();
    const int64_t C = rows.size(1);
    for (int64_t b = 0; b < B; ++b)
      merge_adaptive(rows.data_ptr<float>() + b * T * C, T, C, spec.tau, out + b * T);
  }
  return ids;
}

}  // namespace locsweep
