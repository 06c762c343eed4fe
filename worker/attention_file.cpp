#include "worker/attention_file.hpp"

#include <fmt/format.h>

#include "common/files.hpp"
#include "trial/hdf5_io.hpp"

namespace locsweep {
namespace fs = std::filesystem;

int64_t attention_windows_within(int64_t windows, int64_t n_layer, int64_t n_head,
                                 int64_t block_size, double max_bytes) {
  const double per_window = 2.0 * static_cast<double>(n_layer * n_head * block_size * block_size);
  return std::min<int64_t>(windows, static_cast<int64_t>(max_bytes / per_window));
}

AttentionFileInfo write_attention_file(
    const fs::path& path, const AttentionRecord& rec,
    const std::vector<std::pair<std::string, std::string>>& meta) {
  const int64_t W = rec.tokens.size(0), T = rec.tokens.size(1);
  const auto L = static_cast<int64_t>(rec.attention.size());
  const int64_t H = L > 0 ? rec.attention[0].size(1) : 0;
  h5::write_atomic(path, "attention file", [&](H5::H5File& file) {
    H5::Group root = file.openGroup("/");
    h5::write_string_attr(root, "format", "locsweep-attention");
    h5::write_int_attr(root, "version", 1);
    for (const auto& [k, v] : meta) h5::write_string_attr(root, k, v);
    h5::write_int_attr(root, "n_layer", L);
    h5::write_int_attr(root, "n_head", H);
    h5::write_int_attr(root, "block_size", T);
    const auto tokens = rec.tokens.to(torch::kInt32).contiguous();
    const auto blocks = rec.blocks.to(torch::kInt32).contiguous();
    const std::vector<hsize_t> wt = {static_cast<hsize_t>(W), static_cast<hsize_t>(T)};
    h5::write_dataset(root, "tokens", H5::PredType::NATIVE_INT32, wt, tokens.data_ptr());
    h5::write_dataset(root, "blocks", H5::PredType::NATIVE_INT32, wt, blocks.data_ptr());
    h5::write_dataset(root, "starts", H5::PredType::NATIVE_INT64, {static_cast<hsize_t>(W)},
                      rec.starts.data());
    h5::write_dataset(root, "lambda", H5::PredType::NATIVE_DOUBLE, {static_cast<hsize_t>(L)},
                      rec.lambdas.data());

    const hsize_t dims[5] = {static_cast<hsize_t>(W), static_cast<hsize_t>(L),
                             static_cast<hsize_t>(H), static_cast<hsize_t>(T),
                             static_cast<hsize_t>(T)};
    const hsize_t chunk[5] = {1, 1, 1, static_cast<hsize_t>(T), static_cast<hsize_t>(T)};
    H5::DSetCreatPropList props;
    props.setChunk(5, chunk);
    props.setShuffle();
    props.setDeflate(4);
    const H5::FloatType half = h5::float16_type();
    H5::DataSet ds = root.createDataSet("attention", half, H5::DataSpace(5, dims), props);
    // [L][W, H, T, T] -> [W, L, H, T, T], as raw binary16 bits.
    const auto stacked = torch::stack(rec.attention, 1).to(torch::kCPU, torch::kHalf).contiguous();
    ds.write(stacked.data_ptr(), half);
  });
  return {W, W * L * H * T * T * 2, static_cast<int64_t>(fs::file_size(path)), file_sha256(path)};
}

}  // namespace locsweep
