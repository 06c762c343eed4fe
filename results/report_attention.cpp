#include "results/report_attention.hpp"

#include "common/error.hpp"
#include "common/files.hpp"
#include "trial/attention_reader.hpp"

namespace locsweep::report {
namespace fs = std::filesystem;

AttentionSlice read_attention_slice(const fs::path& path) {
  const AttentionFileReader file(path);
  AttentionSlice s;
  s.n_layer = file.shape().layers;
  s.block_size = file.shape().block_size;
  s.lambdas = file.lambdas();
  const std::vector<int32_t> blocks = file.blocks(0);
  s.blocks.assign(blocks.begin(), blocks.end());
  s.layer_index = {0};
  if (s.n_layer > 1) s.layer_index.push_back(s.n_layer - 1);
  for (const int64_t l : s.layer_index) s.layers.push_back(file.matrix(0, l, 0));
  return s;
}

AttentionSource load_attention(Database& db, const std::vector<TrialRef>& trials) {
  AttentionSource src;
  if (trials.empty()) {
    src.problem = "Not drawn: no done trial of this configuration.";
    return src;
  }
  src.trial = trials.front();
  const auto artifact = attention_artifact(db, trials.front().hash);
  if (!artifact) {
    src.problem = "Not drawn: this trial recorded no attention (record.attention_windows is 0).";
    return src;
  }
  const fs::path path = artifact->path;
  src.path = path;
  if (!fs::exists(path)) {
    src.problem = "Not drawn: the attention file " + path.string() + " is missing.";
    return src;
  }
  if (file_sha256(path) != artifact->sha256) {
    src.problem =
        "Not drawn: the attention file " + path.string() +
        " does not match its SHA-256 in the artifacts table (changed or damaged since it was "
        "recorded).";
    return src;
  }
  try {
    src.slice = read_attention_slice(path);
  } catch (const Error& e) {
    src.problem = "Not drawn: cannot read " + path.string() + ": " + e.what();
  }
  return src;
}

}  // namespace locsweep::report
