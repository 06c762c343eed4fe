// The attention a report heatmap shows: the recorded attention.h5 of a configuration's
// lowest-seed done trial, found through the artifacts table, checked against its recorded
// SHA-256, and read only through the validating reader (trial/attention_reader.hpp); the
// report has no reading of the file format of its own. A file that is missing, changed or
// unreadable is no error: the heatmap is skipped with a note saying why.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "results/report_queries.hpp"

namespace locsweep::report {

// Window 0, head 0 of the first and last layer of an attention file.
struct AttentionSlice {
  int64_t n_layer = 0, block_size = 0;
  std::vector<double> lambdas;
  std::vector<int> blocks;                 // B(i) of window 0
  std::vector<std::vector<float>> layers;  // [first, last] layer: T*T weights of head 0, window 0
  std::vector<int64_t> layer_index;
};

// Reads the slice (float16 on disk, converted by HDF5). Throws as AttentionFileReader.
AttentionSlice read_attention_slice(const std::filesystem::path& path);

// What a configuration's heatmap can draw.
struct AttentionSource {
  std::optional<TrialRef> trial;              // the lowest-seed done trial, if any
  std::optional<std::filesystem::path> path;  // its recorded attention file, if any
  std::optional<AttentionSlice> slice;        // read and checked; empty: `problem` says why
  std::string problem;                        // "Not drawn: ..."
};

// `trials`: the configuration's done trials, lowest seed first (trials_of_rows).
AttentionSource load_attention(Database& db, const std::vector<TrialRef>& trials);

}  // namespace locsweep::report
