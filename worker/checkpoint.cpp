#include "worker/checkpoint.hpp"

#include <ctime>
#include <map>

#include "common/files.hpp"
#include "common/sha256.hpp"
#include "worker/hdf5_io.hpp"

namespace locsweep {
namespace fs = std::filesystem;

namespace {

constexpr const char* kFormat = "locsweep-checkpoint";
constexpr int64_t kVersion = 1;

torch::Tensor to_cpu(const torch::Tensor& t) {
  return t.detach().to(torch::kCPU).contiguous();
}

// The datasets of a checkpoint, in the fixed order the checksum uses.
struct Entry {
  std::string path;    // "/model/wte.weight"
  torch::Tensor data;  // CPU, contiguous
};

std::string checksum(const std::vector<Entry>& entries, const std::string& config, int64_t step) {
  Sha256 h;
  h.update(config);
  h.update(std::to_string(step));
  for (const auto& e : entries) {
    h.update(e.path);
    h.update(e.data.data_ptr(), static_cast<size_t>(e.data.nbytes()));
  }
  return h.hex_digest();
}

std::vector<Entry> entries_of(const Gpt2& model, AdamW& optimizer, const TrainingState& state) {
  std::vector<Entry> out;
  const auto& params = model.parameters();
  for (const auto& p : params) out.push_back({"/model/" + p.name, to_cpu(p.tensor)});
  for (size_t i = 0; i < params.size(); ++i)
    out.push_back({"/optimizer/exp_avg/" + params[i].name, to_cpu(optimizer.exp_avg()[i])});
  for (size_t i = 0; i < params.size(); ++i)
    out.push_back({"/optimizer/exp_avg_sq/" + params[i].name, to_cpu(optimizer.exp_avg_sq()[i])});
  out.push_back({"/rng/dropout", state.rng_state.defined() ? to_cpu(state.rng_state)
                                                           : torch::zeros({0}, torch::kUInt8)});
  out.push_back(
      {"/train/recent_loss", torch::tensor(state.recent_loss, torch::kFloat64)
                                 .reshape({static_cast<int64_t>(state.recent_loss.size())})});
  return out;
}

H5::PredType h5_type(torch::ScalarType t) {
  switch (t) {
    case torch::kFloat32:
      return H5::PredType::NATIVE_FLOAT;
    case torch::kFloat64:
      return H5::PredType::NATIVE_DOUBLE;
    case torch::kUInt8:
      return H5::PredType::NATIVE_UINT8;
    default:
      throw Error("checkpoint: unsupported tensor type");
  }
}

H5::Group group_for(H5::H5File& file, const std::string& path) {
  // Creates the intermediate groups of "/a/b/name" and returns /a/b.
  std::string current;
  H5::Group group = file.openGroup("/");
  size_t start = 1;
  for (size_t slash; (slash = path.find('/', start)) != std::string::npos; start = slash + 1) {
    current += "/" + path.substr(start, slash - start);
    group = file.nameExists(current) ? file.openGroup(current) : file.createGroup(current);
  }
  return group;
}

std::string leaf(const std::string& path) {
  return path.substr(path.rfind('/') + 1);
}

// Reads every dataset `expected` names, with the expected type and shape, into CPU tensors.
std::vector<Entry> read_entries(H5::H5File& file, const std::vector<Entry>& expected,
                                const fs::path& path) {
  std::vector<Entry> out;
  for (const auto& e : expected) {
    if (!file.nameExists(e.path))
      throw InputError("checkpoint '" + path.string() + "' lacks " + e.path +
                       " (it was written for another model shape)");
    H5::DataSet ds = file.openDataSet(e.path);
    const auto dims = h5::dataset_dims(ds);
    std::vector<int64_t> shape(dims.begin(), dims.end());
    const bool shape_free = e.path == "/rng/dropout" || e.path == "/train/recent_loss";
    if (!shape_free && shape != e.data.sizes().vec())
      throw InputError("checkpoint '" + path.string() + "': " + e.path + " has shape " +
                       c10::str(c10::IntArrayRef(shape)) + ", the model needs " +
                       c10::str(e.data.sizes()));
    auto t = torch::empty(shape, torch::TensorOptions().dtype(e.data.scalar_type()));
    if (t.numel() > 0) ds.read(t.data_ptr(), h5_type(t.scalar_type()));
    out.push_back({e.path, t});
  }
  return out;
}

template <class Fn>
auto with_hdf5_errors(const fs::path& path, Fn fn) {
  h5::silence_errors();
  try {
    return fn();
  } catch (const H5::Exception& e) {
    throw CorruptFileError(
        "checkpoint '" + path.string() +
        "' cannot be read (truncated, damaged or not a checkpoint): " + e.getDetailMsg());
  }
}

}  // namespace

CheckpointInfo save_checkpoint(const fs::path& path, const std::string& trial_hash,
                               const std::string& config_json, int threads, const Gpt2& model,
                               AdamW& optimizer, const TrainingState& state) {
  const auto entries = entries_of(model, optimizer, state);
  const fs::path tmp = temporary_sibling(path);
  h5::silence_errors();
  try {
    H5::H5File file(tmp.string(), H5F_ACC_TRUNC);
    H5::Group root = file.openGroup("/");
    h5::write_string_attr(root, "format", kFormat);
    h5::write_int_attr(root, "version", kVersion);
    h5::write_string_attr(root, "trial_hash", trial_hash);
    h5::write_string_attr(root, "config", config_json);
    h5::write_int_attr(root, "step", state.step);
    h5::write_int_attr(root, "threads", threads);
    h5::write_int_attr(root, "created_unix", static_cast<int64_t>(std::time(nullptr)));
    for (const auto& e : entries) {
      H5::Group group = group_for(file, e.path);
      std::vector<hsize_t> dims(e.data.sizes().begin(), e.data.sizes().end());
      h5::write_dataset(group, leaf(e.path), h5_type(e.data.scalar_type()), dims,
                        e.data.data_ptr());
    }
    h5::write_string_attr(root, "checksum", checksum(entries, config_json, state.step));
    file.flush(H5F_SCOPE_GLOBAL);
    file.close();
  } catch (const H5::Exception& e) {
    fs::remove(tmp);
    throw Error("cannot write checkpoint '" + path.string() + "': " + e.getDetailMsg());
  }
  fsync_file(tmp);
  fs::rename(tmp, path);
  fsync_parent(path);
  return {static_cast<int64_t>(fs::file_size(path)), file_sha256(path)};
}

namespace {

struct Verified {
  std::vector<Entry> entries;  // in entries_of() order
  int64_t step = 0;
};

// Opens, checks format/version/trial and shapes, reads every dataset and verifies the
// checksum; modifies nothing. An empty `trial_hash` accepts any trial (model.init).
Verified read_verified(const fs::path& path, const std::string& trial_hash, const Gpt2& model,
                       AdamW& optimizer) {
  if (!fs::exists(path)) throw InputError("no checkpoint at '" + path.string() + "'");
  const auto expected = entries_of(model, optimizer, TrainingState{});
  Verified out;
  with_hdf5_errors(path, [&] {
    H5::H5File file(path.string(), H5F_ACC_RDONLY);
    H5::Group root = file.openGroup("/");
    if (!h5::has_attr(root, "format") || h5::read_string_attr(root, "format") != kFormat)
      throw CorruptFileError("'" + path.string() + "' is not a locsweep checkpoint");
    if (h5::read_int_attr(root, "version") != kVersion)
      throw InputError("checkpoint '" + path.string() + "' has format version " +
                       std::to_string(h5::read_int_attr(root, "version")) +
                       "; this locsweep reads " + std::to_string(kVersion));
    const std::string hash = h5::read_string_attr(root, "trial_hash");
    if (!trial_hash.empty() && hash != trial_hash)
      throw InputError("checkpoint '" + path.string() + "' belongs to trial " + hash.substr(0, 12) +
                       ", not " + trial_hash.substr(0, 12) + "; use a fresh --out folder");
    const std::string config = h5::read_string_attr(root, "config");
    out.step = h5::read_int_attr(root, "step");
    out.entries = read_entries(file, expected, path);
    if (checksum(out.entries, config, out.step) != h5::read_string_attr(root, "checksum"))
      throw CorruptFileError("checkpoint '" + path.string() +
                             "' fails its checksum (damaged on disk); it was not loaded");
    return 0;
  });
  return out;
}

}  // namespace

TrainingState load_checkpoint(const fs::path& path, const std::string& trial_hash, Gpt2& model,
                              AdamW& optimizer) {
  const Verified v = read_verified(path, trial_hash, model, optimizer);
  // Verified: now copy into the live objects.
  torch::NoGradGuard no_grad;
  const auto& params = model.parameters();
  const size_t n = params.size();
  for (size_t i = 0; i < n; ++i) {
    params[i].tensor.copy_(v.entries[i].data);
    optimizer.exp_avg()[i].copy_(v.entries[n + i].data);
    optimizer.exp_avg_sq()[i].copy_(v.entries[2 * n + i].data);
  }
  optimizer.set_step_count(v.step);
  TrainingState state;
  state.step = v.step;
  state.rng_state = v.entries[3 * n].data;
  const auto& losses = v.entries[3 * n + 1].data;
  state.recent_loss.assign(losses.data_ptr<double>(), losses.data_ptr<double>() + losses.numel());
  return state;
}

void load_model_from_checkpoint(const fs::path& path, Gpt2& model) {
  AdamW scratch(model.parameters(), AdamWOptions{});  // only to name the entries to verify
  const Verified v = read_verified(path, "", model, scratch);
  torch::NoGradGuard no_grad;
  for (size_t i = 0; i < model.parameters().size(); ++i)
    model.parameters()[i].tensor.copy_(v.entries[i].data);
}

}  // namespace locsweep
