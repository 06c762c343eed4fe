// Reading a recorded attention file (layout: worker/attention_file.hpp,
// docs/data-formats.md) without torch, for `locsweep attention` and the report. The
// constructor validates the whole layout through h5::Reader before anything is read: every
// dataset's type class and rank, /attention [W, L, H, T, T] with square T x T matrices,
// /tokens and /blocks [W, T], /starts [W], /lambda [L], and the n_layer / n_head /
// block_size attributes equal to L, H and T. A file that disagrees anywhere throws
// CorruptFileError ("file 'a.h5': dataset '/lambda' has shape [7], expected [2]; the file is
// not a locsweep attention file or is damaged"); reads are then sized by the checked shape.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "trial/hdf5_io.hpp"
#include "trial/trial_result.hpp"

namespace locsweep {

struct AttentionShape {
  int64_t windows = 0, layers = 0, heads = 0, block_size = 0;  // W, L, H, T
};

class AttentionFileReader {
 public:
  // Throws InputError (no such file) or CorruptFileError (anything else wrong).
  explicit AttentionFileReader(const std::filesystem::path& path);

  const AttentionShape& shape() const { return shape_; }
  std::string string_attr(const std::string& name) const { return file_.string_attr(name); }
  const std::vector<double>& lambdas() const { return lambdas_; }  // [L]
  std::vector<int32_t> blocks(int64_t window) const;               // [T]
  // a_ij of every head of one window and layer, [H, T, T] row-major, as float64.
  std::vector<double> weights(int64_t window, int64_t layer) const;
  // a_ij of one head, [T, T] row-major.
  std::vector<float> matrix(int64_t window, int64_t layer, int64_t head) const;

 private:
  h5::Reader file_;
  AttentionShape shape_;
  std::vector<hsize_t> attention_dims_, window_dims_;
  std::vector<double> lambdas_;
};

// The metrics of every layer and head (trial/attention_metrics.hpp) over all the file's
// windows, from its float16 weights: what the trainer computed from the same windows, to
// float16 rounding.
std::vector<HeadMetrics> head_metrics(const AttentionFileReader& file);

// A human summary of an attention file (`locsweep attention FILE.h5`): shape, sizes and,
// per layer, lambda, mean entropy, in-block mass and mean distance. Throws as the reader.
std::string summarize_attention_file(const std::filesystem::path& path);

}  // namespace locsweep
