#include "trial/checkpoint_reader.hpp"

#include "common/sha256.hpp"

namespace locsweep {
namespace fs = std::filesystem;

namespace {

std::string shape_text(const std::vector<int64_t>& shape) {
  return h5::shape_text(std::vector<hsize_t>(shape.begin(), shape.end()));
}

// The dims of `d` in the file; a fixed shape of another size is an InputError.
std::vector<hsize_t> checked_dims(const h5::Reader& file, const CheckpointDataset& d) {
  const fs::path& path = file.path();
  if (!file.has_object(d.path))
    throw InputError("checkpoint '" + path.string() + "' lacks " + d.path +
                     " (it was written for another model shape)");
  if (d.any_length) return file.dims(d.path, d.type, 1, static_cast<hsize_t>(d.max_length));
  const std::vector<hsize_t> dims = file.dims(d.path, d.type, d.shape.size(), h5::kMaxElements);
  if (std::vector<int64_t>(dims.begin(), dims.end()) != d.shape)
    throw InputError("checkpoint '" + path.string() + "': " + d.path + " has shape " +
                     h5::shape_text(dims) + ", the model needs " + shape_text(d.shape));
  return dims;
}

}  // namespace

std::string checkpoint_checksum(
    const std::string& config, int64_t step,
    const std::vector<std::pair<std::string, std::span<const std::byte>>>& datasets) {
  Sha256 h;
  h.update(config);
  h.update(std::to_string(step));
  for (const auto& [path, bytes] : datasets) {
    h.update(path);
    h.update(bytes.data(), bytes.size());
  }
  return h.hex_digest();
}

CheckpointHeader read_checkpoint_file(const fs::path& path, const std::string& trial_hash,
                                      const std::vector<CheckpointDataset>& layout,
                                      const CheckpointBuffer& buffer) {
  if (!fs::exists(path)) throw InputError("no checkpoint at '" + path.string() + "'");
  const h5::Reader file(path, "locsweep checkpoint");
  if (!file.has_attr("format") || file.string_attr("format") != kCheckpointFormat)
    file.fail("the attribute 'format' is not '" + std::string(kCheckpointFormat) + "'");
  if (const int64_t version = file.int_attr("version"); version != kCheckpointVersion)
    throw InputError("checkpoint '" + path.string() + "' has format version " +
                     std::to_string(version) + "; this locsweep reads " +
                     std::to_string(kCheckpointVersion));
  CheckpointHeader header;
  header.trial_hash = file.string_attr("trial_hash");
  if (!trial_hash.empty() && header.trial_hash != trial_hash)
    throw InputError("checkpoint '" + path.string() + "' belongs to trial " +
                     header.trial_hash.substr(0, 12) + ", not " + trial_hash.substr(0, 12) +
                     "; use a fresh --out folder");
  header.config = file.string_attr("config");
  header.step = file.int_attr("step");
  if (header.step < 0) file.fail("the attribute 'step' is negative");

  // Shapes first (a checkpoint of another model is an InputError before anything is read).
  std::vector<std::vector<hsize_t>> dims;
  for (const auto& d : layout) dims.push_back(checked_dims(file, d));
  std::vector<std::pair<std::string, std::span<const std::byte>>> read;
  for (size_t i = 0; i < layout.size(); ++i) {
    const std::span<std::byte> out =
        buffer(i, std::vector<int64_t>(dims[i].begin(), dims[i].end()));
    file.read(layout[i].path, layout[i].type, dims[i], out.data(), out.size());
    read.emplace_back(layout[i].path, out);
  }
  if (checkpoint_checksum(header.config, header.step, read) != file.string_attr("checksum"))
    throw CorruptFileError("checkpoint '" + path.string() +
                           "' fails its checksum (damaged on disk); it was not loaded");
  return header;
}

}  // namespace locsweep
