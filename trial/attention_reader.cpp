#include "trial/attention_reader.hpp"

#include <fmt/format.h>

#include <span>

#include "trial/attention_metrics.hpp"

namespace locsweep {
namespace fs = std::filesystem;

namespace {

constexpr const char* kFormat = "locsweep-attention";
constexpr int64_t kVersion = 1;
// Above every limit of the configuration (windows <= 4096, n_layer <= 96, n_head <= 128,
// block_size <= 8192).
constexpr hsize_t kMaxDim = 1 << 16;

}  // namespace

AttentionFileReader::AttentionFileReader(const fs::path& path)
    : file_(path, "locsweep attention file") {
  if (!file_.has_attr("format") || file_.string_attr("format") != kFormat)
    file_.fail("the attribute 'format' is not '" + std::string(kFormat) + "'");
  if (const int64_t version = file_.int_attr("version"); version != kVersion)
    throw InputError("attention file '" + path.string() + "' has format version " +
                     std::to_string(version) + "; this locsweep reads " + std::to_string(kVersion));
  const auto d = file_.dims("/attention", h5::Element::float32, 5, kMaxDim);
  if (d[3] != d[4])
    file_.fail("dataset '/attention' has shape " + h5::shape_text(d) +
               ": its matrices are not square (expected [W, L, H, T, T])");
  for (int i = 0; i < 4; ++i)
    if (d[i] == 0)
      file_.fail("dataset '/attention' has shape " + h5::shape_text(d) + ": it is empty");
  shape_ = {static_cast<int64_t>(d[0]), static_cast<int64_t>(d[1]), static_cast<int64_t>(d[2]),
            static_cast<int64_t>(d[3])};
  attention_dims_ = d;
  const std::pair<const char*, int64_t> attrs[] = {
      {"n_layer", shape_.layers}, {"n_head", shape_.heads}, {"block_size", shape_.block_size}};
  for (const auto& [name, want] : attrs)
    if (const int64_t got = file_.int_attr(name); got != want)
      file_.fail("the attribute '" + std::string(name) + "' is " + std::to_string(got) +
                 ", but dataset '/attention' has shape " + h5::shape_text(d));
  window_dims_ = {d[0], d[3]};
  file_.expect_dims("/tokens", file_.dims("/tokens", h5::Element::int32, 2, kMaxDim), window_dims_);
  file_.expect_dims("/blocks", file_.dims("/blocks", h5::Element::int32, 2, kMaxDim), window_dims_);
  file_.expect_dims("/starts", file_.dims("/starts", h5::Element::int64, 1, kMaxDim), {d[0]});
  file_.expect_dims("/lambda", file_.dims("/lambda", h5::Element::float64, 1, kMaxDim), {d[1]});
  lambdas_.resize(d[1]);
  file_.read("/lambda", h5::Element::float64, {d[1]}, lambdas_.data(),
             lambdas_.size() * sizeof(double));
}

std::vector<int32_t> AttentionFileReader::blocks(int64_t window) const {
  std::vector<int32_t> out(static_cast<size_t>(shape_.block_size));
  file_.read_block("/blocks", h5::Element::int32, window_dims_, {static_cast<hsize_t>(window), 0},
                   {1, window_dims_[1]}, out.data(), out.size() * sizeof(int32_t));
  return out;
}

std::vector<double> AttentionFileReader::weights(int64_t window, int64_t layer) const {
  const hsize_t H = attention_dims_[2], T = attention_dims_[3];
  std::vector<double> out(H * T * T);
  file_.read_block("/attention", h5::Element::float64, attention_dims_,
                   {static_cast<hsize_t>(window), static_cast<hsize_t>(layer), 0, 0, 0},
                   {1, 1, H, T, T}, out.data(), out.size() * sizeof(double));
  return out;
}

std::vector<float> AttentionFileReader::matrix(int64_t window, int64_t layer, int64_t head) const {
  const hsize_t T = attention_dims_[3];
  std::vector<float> out(T * T);
  file_.read_block(
      "/attention", h5::Element::float32, attention_dims_,
      {static_cast<hsize_t>(window), static_cast<hsize_t>(layer), static_cast<hsize_t>(head), 0, 0},
      {1, 1, 1, T, T}, out.data(), out.size() * sizeof(float));
  return out;
}

std::vector<HeadMetrics> head_metrics(const AttentionFileReader& file) {
  const auto [W, L, H, T] = file.shape();
  std::vector<std::vector<int64_t>> blocks;
  for (int64_t w = 0; w < W; ++w) {
    const auto b = file.blocks(w);
    blocks.emplace_back(b.begin(), b.end());
  }
  AttentionMetricsAccumulator metrics(L, H, file.lambdas());
  for (int64_t l = 0; l < L; ++l)
    for (int64_t w = 0; w < W; ++w) {
      const auto a = file.weights(w, l);
      for (int64_t h = 0; h < H; ++h)
        metrics.add(l, h,
                    std::span<const double>(a).subspan(static_cast<size_t>(h * T * T),
                                                       static_cast<size_t>(T * T)),
                    blocks[static_cast<size_t>(w)]);
    }
  return metrics.result();
}

std::string summarize_attention_file(const fs::path& path) {
  const AttentionFileReader file(path);
  const auto [W, L, H, T] = file.shape();
  const double raw_mb = 2.0 * static_cast<double>(W) * static_cast<double>(L) *
                        static_cast<double>(H) * static_cast<double>(T) * static_cast<double>(T) /
                        1e6;
  std::string out = fmt::format(
      "{}\n  trial {}  mechanism {}  schedule {}\n  {} windows x {} layers x {} heads x {}x{} "
      "(float16, {:.1f} MB raw, {:.1f} MB on disk)\n",
      path.string(), file.string_attr("trial_hash").substr(0, 12), file.string_attr("mechanism"),
      file.string_attr("schedule"), W, L, H, T, T, raw_mb,
      static_cast<double>(fs::file_size(path)) / 1e6);
  out += "  layer  lambda   entropy(bits)  in-block mass  mean distance\n";
  const auto heads = head_metrics(file);
  // Every head of a layer has the same number of queries: the layer's mean is the heads' mean.
  for (int64_t l = 0; l < L; ++l) {
    double entropy = 0, in_block = 0, distance = 0;
    for (int64_t h = 0; h < H; ++h) {
      const HeadMetrics& m = heads[static_cast<size_t>(l * H + h)];
      entropy += m.entropy_bits;
      in_block += m.in_block_mass;
      distance += m.mean_distance;
    }
    const auto n = static_cast<double>(H);
    out += fmt::format("  {:>5}  {:>6.4f}  {:>13.3f}  {:>13.3f}  {:>13.2f}\n", l,
                       file.lambdas()[static_cast<size_t>(l)], entropy / n, in_block / n,
                       distance / n);
  }
  return out;
}

}  // namespace locsweep
