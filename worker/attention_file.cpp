#include "worker/attention_file.hpp"

#include <fmt/format.h>

#include "common/files.hpp"
#include "worker/checkpoint.hpp"
#include "worker/hdf5_io.hpp"

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
  const fs::path tmp = temporary_sibling(path);
  h5::silence_errors();
  try {
    H5::H5File file(tmp.string(), H5F_ACC_TRUNC);
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
    file.flush(H5F_SCOPE_GLOBAL);
    file.close();
  } catch (const H5::Exception& e) {
    fs::remove(tmp);
    throw Error("cannot write attention file '" + path.string() + "': " + e.getDetailMsg());
  }
  fsync_file(tmp);
  fs::rename(tmp, path);
  fsync_parent(path);
  return {W, W * L * H * T * T * 2, static_cast<int64_t>(fs::file_size(path)), file_sha256(path)};
}

std::string summarize_attention_file(const fs::path& path) {
  if (!fs::exists(path)) throw InputError("no such file: '" + path.string() + "'");
  h5::silence_errors();
  try {
    H5::H5File file(path.string(), H5F_ACC_RDONLY);
    H5::Group root = file.openGroup("/");
    if (!h5::has_attr(root, "format") ||
        h5::read_string_attr(root, "format") != "locsweep-attention")
      throw InputError("'" + path.string() + "' is not a locsweep attention file");
    H5::DataSet ds = file.openDataSet("attention");
    const auto d = h5::dataset_dims(ds);
    const int64_t W = d[0], L = d[1], H = d[2], T = d[3];
    auto att = torch::empty({W, L, H, T, T}, torch::kHalf);
    ds.read(att.data_ptr(), h5::float16_type());
    auto blocks = torch::empty({W, T}, torch::kInt32);
    file.openDataSet("blocks").read(blocks.data_ptr(), H5::PredType::NATIVE_INT32);
    std::vector<double> lambdas(static_cast<size_t>(L));
    file.openDataSet("lambda").read(lambdas.data(), H5::PredType::NATIVE_DOUBLE);

    std::string out = fmt::format(
        "{}\n  trial {}  mechanism {}  schedule {}\n  {} windows x {} layers x {} heads x {}x{} "
        "(float16, {:.1f} MB raw, {:.1f} MB on disk)\n",
        path.string(), h5::read_string_attr(root, "trial_hash").substr(0, 12),
        h5::read_string_attr(root, "mechanism"), h5::read_string_attr(root, "schedule"), W, L, H, T,
        T, static_cast<double>(W * L * H * T * T * 2) / 1e6,
        static_cast<double>(fs::file_size(path)) / 1e6);
    out += "  layer  lambda   entropy(bits)  in-block mass  mean distance\n";
    const auto a = att.to(torch::kFloat64);
    const auto pos = torch::arange(T, torch::kFloat64);
    const auto same = blocks.unsqueeze(2).eq(blocks.unsqueeze(1)).to(torch::kFloat64);  // [W,T,T]
    const auto dist = (pos.unsqueeze(1) - pos.unsqueeze(0)).clamp_min(0);
    for (int64_t l = 0; l < L; ++l) {
      const auto al = a.select(1, l);  // [W, H, T, T]
      const auto ent = torch::where(al > 0, -al * torch::log2(al.clamp_min(1e-300)),
                                    torch::zeros({}, al.options()));
      out += fmt::format("  {:>5}  {:>6.4f}  {:>13.3f}  {:>13.3f}  {:>13.2f}\n", l,
                         lambdas[static_cast<size_t>(l)], ent.sum(-1).mean().item<double>(),
                         (al * same.unsqueeze(1)).sum(-1).mean().item<double>(),
                         (al * dist).sum(-1).mean().item<double>());
    }
    return out;
  } catch (const H5::Exception& e) {
    throw CorruptFileError("attention file '" + path.string() +
                           "' cannot be read: " + e.getDetailMsg());
  }
}

}  // namespace locsweep
